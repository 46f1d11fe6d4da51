"""LPT for molecules (Kong et al., arXiv 2310.03253; NeurIPS 2024, arXiv 2402.17179v2).

Joint model p(x, y, z0) = N(z0; 0, I) p_beta(x | U(z0)) p_gamma(y | U(z0)) (paper Sec. 2):
UNet prior U (core ``UNetPrior``), causal Transformer over SELFIES cross-attending to the
latents (core ``LatentConditionedDecoder``, style="gpt", shared latents, LayerNorm on z), one
Gaussian MLP per property (``nets.PropertyMLP``). Learning is MCMC-based MLE with Langevin
posterior sampling on z0; the core's ``LatentEBMModule`` runs the step, this class fills its hooks:

    posterior  z0 ~ p(z0 | x[, y])      ``training_posterior`` -> :meth:`LPTMolModule.infer_xy`
    MLE step   grad log p(x[, y]) = E_{p(z0|x,y)}[grad (log p_beta(x|U(z0)) + log p_gamma(y|U(z0)))]
               as the loss ``generator_loss`` (token-mean CE [+ lambda * property MSE])

``predict`` samples molecules (``predict_step``: z0 ~ N(0, I), or z0 ~ p(z0 | y*) for a target
y* in phase ``finetune``, decoded with top-k 50 at temperature 1) and ``write_predictions`` writes
them as a SMILES table (validity, QED, SA, the regressors' predictions) and an RDKit grid image.

The paper's body could not be read (README, "The paper's equations"), so no equation numbers are
cited; each term names the function of the released LPT code it follows.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed
from latent_ebm.core.lightning import ChainConfig, Diagnostics, LatentEBMModule, OptimConfig
from latent_ebm.core.nn import LatentConditionedDecoder
from latent_ebm.core.priors import UNetPrior
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from .nets import PropertyMLP

__all__ = ["LPT_POSTERIOR", "OPTIM", "LPTMolModule", "from_target", "to_target"]

LPT_POSTERIOR = LangevinSchedule(n_steps=15, step_size=0.3, noise_scale=0.5)  # LPT code infer_z
# The LPT code's optimiser (train.py / utils.configure_optimizers): AdamW, betas (0.9, 0.95),
# weight decay 0.1 on >= 2-d weights only, grad-norm clip 5, pretrain peak lr 7.5e-4. Its
# warm-up + cosine schedule is not applied here (a constant rate, as before the grouped settings).
OPTIM = OptimConfig(lr=7.5e-4, algorithm="adamw", betas=(0.9, 0.95), weight_decay=0.1, decay="matrices",
                    grad_clip=5.0)

# Regression-target transforms of the LPT code (utils.py): PlogP (v+15)/20, SA/10, QED raw; for
# docking energies E (clipped to <= 0) ESR1 log(1 - E) and ACAA1 -E/20. Docking values here are
# v = -E (``DockingOracle(negate=True)``: every optimiser maximises), so ESR1 is log(1 + v).
_FWD = {"qed": lambda v: v, "sa": lambda v: v / 10.0, "plogp": lambda v: (v + 15.0) / 20.0,
        "plogp_lpt": lambda v: (v + 15.0) / 20.0,
        "esr1": lambda v: torch.log1p(v.clamp(min=0.0)), "acaa1": lambda v: v.clamp(min=0.0) / 20.0}
_INV = {"qed": lambda v: v, "sa": lambda v: v * 10.0, "plogp": lambda v: v * 20.0 - 15.0,
        "plogp_lpt": lambda v: v * 20.0 - 15.0,
        "esr1": torch.expm1, "acaa1": lambda v: v * 20.0}


# Properties whose regression target lies in [0, 1] (QED; SA / 10): the LPT code's regressors for
# them end in a sigmoid (``bounded_heads``), so a shifted target near the ceiling is not extrapolated.
BOUNDED = frozenset({"qed", "sa"})


def to_target(y: Tensor, props: Sequence[str]) -> Tensor:
    """Raw property values (B, P) -> regression targets (B, P)."""
    return torch.stack([_FWD[p](y[:, i]) for i, p in enumerate(props)], dim=1)


def from_target(t: Tensor, props: Sequence[str]) -> Tensor:
    """Regression targets (B, P) -> raw property values (B, P), the inverse of :func:`to_target`."""
    return torch.stack([_INV[p](t[:, i]) for i, p in enumerate(props)], dim=1)


class LPTMolModule(LatentEBMModule):
    """Latent Prompt Transformer; ``phase`` 'pretrain' learns p(x|z), 'finetune' adds p(y|z).

    Args (model): vocab_size, max_len (SELFIES tokens; sequences are max_len + 1 with <bos>),
        n_latent, latent_dim (z0 and z are n_latent vectors of latent_dim), unet_base,
        unet_multipliers (the UNet prior), d_model, n_layers, n_heads, dropout (the decoder),
        properties, prop_hidden, prop_dropout (the regressors), bounded_heads (a sigmoid on the
        heads of bounded properties, QED and SA, as the LPT code), prop_precision (1/sigma² of
        p_gamma(y|z); the LPT code's energies are sums of squares without the 1/2, i.e. precision
        2, set in the ``paper`` config), prop_coefficient (lambda on the property terms), phase,
        decay_scope (``all``: weight decay on every matrix the optimiser holds; ``decoder``: only
        on the decoder's, as the LPT code's ``configure_optimizers``).
    Args (the core's groups): posterior, eval_posterior (Langevin settings of p(z0 | x, y) in
        learning and in validation/test), optim (AdamW of decoder, regressors and UNet prior:
        the prior is not an EBM, so the base puts its parameters in the generator's optimiser),
        chains (persistent posterior chains, not in the paper), init_noise, seed.
    """

    def __init__(
        self,
        *,
        vocab_size: int = 128,
        max_len: int = 72,
        n_latent: int = 4,
        latent_dim: int = 256,
        unet_base: int = 16,
        unet_multipliers: tuple[int, ...] = (1, 2, 4, 8),
        d_model: int = 256,
        n_layers: int = 3,
        n_heads: int = 4,
        dropout: float = 0.1,
        properties: tuple[str, ...] = ("qed",),
        prop_hidden: tuple[int, ...] = (100, 100),
        prop_dropout: float = 0.3,
        bounded_heads: bool = True,
        prop_precision: float = 1.0,
        prop_coefficient: float = 1.0,
        phase: Literal["pretrain", "finetune"] = "pretrain",
        decay_scope: Literal["all", "decoder"] = "all",
        posterior: LangevinSchedule = LPT_POSTERIOR,
        eval_posterior: LangevinSchedule | None = None,
        optim: OptimConfig = OPTIM,
        chains: ChainConfig = ChainConfig(),
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = 3435,  # the LPT code's seed
    ) -> None:
        super().__init__(posterior=posterior, prior_langevin=None, eval_posterior=eval_posterior, optim=optim,
                         chains=chains, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        for name, value in (("vocab_size", vocab_size), ("max_len", max_len), ("n_latent", n_latent),
                            ("latent_dim", latent_dim), ("unet_base", unet_base), ("d_model", d_model),
                            ("n_layers", n_layers), ("n_heads", n_heads)):
            check_int(name, value, low=1)
        check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
        check_real("prop_dropout", prop_dropout, low=0.0, high=1.0, high_open=True)
        check_real("prop_precision", prop_precision, low=0.0, low_open=True)
        check_real("prop_coefficient", prop_coefficient, low=0.0)
        check_choice("phase", phase, ("pretrain", "finetune"))
        check_choice("decay_scope", decay_scope, ("all", "decoder"))
        check_choice("bounded_heads", bounded_heads, (True, False))
        if isinstance(properties, str) or any(p not in _FWD for p in properties):
            raise not_allowed("properties", properties, f"each must be one of {sorted(_FWD)}")
        self.prior = UNetPrior(n_latent, latent_dim, unet_base, unet_multipliers)
        self.decoder = LatentConditionedDecoder(
            vocab_size, d_model, n_layers, n_heads, max_len + 1, cross_attention=True,
            latent_groups="shared", n_latents=n_latent, style="gpt", latent_norm=True,
            dropout=dropout, tie_weights=False,
        )
        if latent_dim != d_model:
            # TODO(core): the decoder reads latents of width d_model; project when they differ.
            self.latent_proj = nn.Linear(latent_dim, d_model)
        else:
            self.latent_proj = nn.Identity()
        bounded = [bounded_heads and p in BOUNDED for p in properties]
        self.prop = PropertyMLP(n_latent * latent_dim, len(properties), prop_hidden, prop_dropout, bounded)
        self.vocab_state: dict | None = None  # SELFIES vocabulary, saved in checkpoints

    # ---- likelihoods -----------------------------------------------------------------------------
    def split_batch(self, batch: Any) -> tuple[Any, Tensor | None]:
        """x is the whole batch dict: tokens ``"x"`` and, in finetuning, properties ``"y"``."""
        return batch, batch.get("index")

    def batch_size_of(self, x: Any) -> int:
        return int(x["x"].shape[0])

    def token_nll(self, tokens: Tensor, z: Tensor) -> Tensor:
        """Per-token CE (B, T) and mask (B, T) for tokens (B, T+1) = [bos, ..., eos, pad...]."""
        logits = self.decoder(tokens[:, :-1], self.latent_proj(z))  # (B, T, V)
        tgt = tokens[:, 1:]
        ce = F.cross_entropy(logits.transpose(1, 2), tgt, reduction="none")  # (B, T)
        return ce, (tgt != 0).float()

    def log_likelihood(self, x: Any, z: Tensor) -> Tensor:
        """log p_beta(x | z) = sum_t log p(x_t | x_<t, z), summed over tokens, (B,) (the LPT
        code sums in inference, ``infer_z``)."""
        ce, mask = self.token_nll(x["x"], z)
        return -(ce * mask).sum(1)

    def property_energy(self, z: Tensor, y: Tensor) -> Tensor:
        """-log p_gamma(y | z) up to a constant: (precision / 2) sum_p (t_p - MLP_p(z))^2, (B,)."""
        t = to_target(y, self.hparams.properties)
        return 0.5 * self.hparams.prop_precision * ((t - self.prop(z)) ** 2).sum(1)

    def generator_parameters(self) -> Iterable[nn.Parameter]:
        yield from self.decoder.parameters()
        yield from self.latent_proj.parameters()
        yield from self.prop.parameters()

    def decay_exempt_parameters(self) -> Iterable[nn.Parameter]:
        """With ``decay_scope='decoder'``: the UNet prior, the latent projection and the regressors
        never decay (the LPT code decays only its decoder's matrices)."""
        if self.hparams.decay_scope == "all":
            return ()
        return [*self.prior.parameters(), *self.latent_proj.parameters(), *self.prop.parameters()]

    # ---- posterior -------------------------------------------------------------------------------
    def infer_xy(self, x: dict, y: Tensor | None, *, schedule: LangevinSchedule | None = None,
                 generator: torch.Generator | None = None, u0: Tensor | None = None,
                 diagnostics: Diagnostics | None = None) -> Tensor:
        """z0 ~ p(z0 | x, y) by the LPT code's ``infer_z``: per step, one Langevin step of
        ``schedule`` on -log p_beta(x | U(z0)) + |z0|²/2, then (with y) a gradient step
        z0 <- z0 - (s²/2) lambda grad [-log p_gamma(y | U(z0))] (noise factor 0.5 in the defaults).
        Chains start at ``u0`` when given (warm starts), else at N(0, I); the model runs in eval
        mode (no dropout), as in the LPT code. (B, n_latent, latent_dim)."""
        s = schedule or self.posterior_schedule
        g = generator or self.rng
        if torch.is_inference_mode_enabled():
            with torch.inference_mode(False):
                x = {k: v.clone() if torch.is_tensor(v) else v for k, v in x.items()}
                y = None if y is None else y.clone()
                u0 = None if u0 is None else u0.clone()
                return self.infer_xy(x, y, schedule=schedule, generator=g, u0=u0, diagnostics=diagnostics)
        u = self.initial_latents(self.batch_size_of(x), generator=g) if u0 is None else u0.detach()
        one_step = dataclasses.replace(s, n_steps=1)  # the property step goes between Langevin steps
        was_training = self.training
        self.eval()
        for _ in range(s.n_steps):
            u = langevin_from_schedule(lambda v: self.posterior_energy(v, x), u, one_step, generator=g,
                                       callback=diagnostics)
            if y is not None:
                u = self._property_step(u, y, s.step_size)
        self.train(was_training)
        return u

    def _property_step(self, u: Tensor, y: Tensor, step: float) -> Tensor:
        with torch.enable_grad():
            v = u.detach().requires_grad_(True)
            e = self.hparams.prop_coefficient * self.property_energy(self.prior.transform(v), y).sum()
            (grad,) = torch.autograd.grad(e, v)
        return (u - 0.5 * step**2 * grad).detach()

    # ---- the base's hooks ------------------------------------------------------------------------
    def training_posterior(self, x: Any, u0: Tensor, diagnostics: Diagnostics) -> Tensor:
        """z0 ~ p(z0 | x) in pretraining, p(z0 | x, y) in finetuning (:meth:`infer_xy` from u0)."""
        y = x["y"] if self.hparams.phase == "finetune" else None
        return self.infer_xy(x, y, u0=u0, diagnostics=diagnostics)

    def generator_loss(self, x: Any, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """The LPT code's parameter loss at z = U(z0*), z0* ~ p(z0 | x, y): the token-mean
        cross-entropy of p_beta(x | z), plus in finetuning lambda * sum_p MSE(t_p, MLP_p(z)) for
        p_gamma (the MLE gradient's two terms; the UNet learns through z)."""
        ce, mask = self.token_nll(x["x"], z)
        nll = (ce * mask).sum() / mask.sum()  # token-mean CE (LPT code)
        loss = nll
        logs = {"train/ce": nll.detach()}
        if self.hparams.phase == "finetune":
            mse = ((to_target(x["y"], self.hparams.properties) - self.prop(z)) ** 2).mean(0).sum()
            loss = loss + self.hparams.prop_coefficient * mse
            logs["train/prop_mse"] = mse.detach()
        return loss, logs

    def eval_step(self, batch: Any, stage: str) -> Tensor:
        """z0 ~ p(z0 | x) with ``eval_posterior`` and the token-mean CE there, ``<stage>/nll``."""
        x, _ = self.split_batch(batch)
        diag = Diagnostics()
        u = self.infer_xy(x, None, schedule=self.eval_schedule, diagnostics=diag)
        with torch.no_grad():
            ce, mask = self.token_nll(x["x"], self.prior.transform(u))
            nll = (ce * mask).sum() / mask.sum()
        self.log_dict({f"{stage}/nll": nll, **diag.as_dict(f"{stage}/posterior")},
                      batch_size=self.batch_size_of(x), sync_dist=True)
        return nll

    # ---- what a user looks at: predict -----------------------------------------------------------
    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        """One molecule per row of the batch: z0 ~ N(0, I) (the prior: z = U(z0)), or, when the
        rows carry a target ``"y"`` (raw property values, ``data.predict_target``), z0 ~ p(z0 | y)
        by Langevin (``design.DESIGN_SCHEDULE``); decoded with top-k 50 at temperature 1 (the LPT
        code's sampling). Returns the SMILES, the regressors' predictions of the raw properties
        at z and the target (or None)."""
        from .data import SelfiesVocab
        from .design import decode, sample_latents_given_y

        if self.vocab_state is None:
            raise ValueError("the model has no SELFIES vocabulary: give --ckpt_path (a fitted run) or data to build it")
        n = len(batch["index"])
        y = batch.get("y")
        with torch.enable_grad(), torch.inference_mode(False):
            u = self.sample_prior(n)
            if y is not None:
                target = [round(float(v), 6) for v in y[0]]  # as the user gave it (y is float32)
                if self.hparams.phase != "finetune":
                    raise not_allowed("predict_target", target, "it needs a model fitted in phase finetune "
                                      "(its property regressors are not trained in pretrain)")
                if y.shape[1] != len(self.hparams.properties):
                    raise not_allowed("predict_target", target,
                                      f"give one value per property the model predicts {self.hparams.properties}")
                u = sample_latents_given_y(self, y.clone().to(u), u0=u, generator=self.rng).detach()
        # the decoder samples with a generator on the model's device, seeded from the module's RNG
        gen = torch.Generator(device=u.device).manual_seed(self.draw_seed())
        smiles = decode(self, u, SelfiesVocab.from_state(self.vocab_state), generator=gen)
        with torch.no_grad():
            predicted = from_target(self.prop(self.prior.transform(u)), self.hparams.properties).cpu()
        return {"smiles": smiles, "predicted": predicted, "target": None if y is None else y.cpu()}

    def write_predictions(self, predictions: list[dict[str, Any]], out_dir: Path) -> list[Path]:
        """``molecules.tsv``, one row per molecule: smiles (RDKit's canonical form where it
        parses), valid (1/0), qed, sa, and for each property the model predicts its RDKit value
        (where one is cheap: ``plogp``), ``predicted_<p>`` (the regressor at the molecule's latent;
        phase finetune only) and ``target_<p>`` (when conditioned); and ``molecules.png``, an
        RDKit grid of the first 16 valid molecules with QED and SA under each."""
        from rdkit import Chem
        from rdkit.Chem import Draw

        from latent_ebm.core.artifacts import write_table

        from .oracles import ORACLES, canonical, qed, sa

        props = self.hparams.properties
        finetuned = self.hparams.phase == "finetune"
        rows, mols, legends = [], [], []
        for out in predictions:
            for i, decoded in enumerate(out["smiles"]):
                can = canonical(decoded) if decoded else None  # RDKit's canonical SMILES; None: invalid
                valid, smi = can is not None, can or decoded
                row: dict[str, Any] = {"smiles": smi, "valid": int(valid), "qed": _score(qed, smi, valid),
                                       "sa": _score(sa, smi, valid)}
                for j, p in enumerate(props):
                    if p not in row and p in ORACLES:
                        row[p] = _score(ORACLES[p], smi, valid)
                    if finetuned:
                        row[f"predicted_{p}"] = f"{float(out['predicted'][i, j]):.4f}"
                    if out["target"] is not None:
                        row[f"target_{p}"] = f"{float(out['target'][i, j]):.4g}"
                rows.append(row)
                if valid and len(mols) < 16:
                    mols.append(Chem.MolFromSmiles(smi))
                    legends.append(f"QED {row['qed']}  SA {row['sa']}")
        written = [write_table(rows, out_dir / "molecules.tsv")]
        if mols:
            image = Draw.MolsToGridImage(mols, molsPerRow=4, subImgSize=(250, 250), legends=legends)
            image.save(out_dir / "molecules.png")
            written.append(out_dir / "molecules.png")
        return written

    # ---- vocabulary plumbing ---------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if dm is not None and getattr(dm, "vocab", None) is None:
            dm.setup(stage)
        if dm is not None and dm.vocab is not None:
            if len(dm.vocab) > self.hparams.vocab_size:
                raise not_allowed("vocab_size", self.hparams.vocab_size,
                                  f"the data's vocabulary has {len(dm.vocab)} tokens")
            self.vocab_state = dm.vocab.state_dict()

    def checkpoint_state(self) -> dict[str, Any]:
        return {**super().checkpoint_state(), "vocab": self.vocab_state}

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        super().load_checkpoint_state(state)
        self.vocab_state = state.get("vocab")


def _score(fn: Any, smiles: str, valid: bool) -> str:
    """``fn(smiles)`` to 3 decimals, or empty for an invalid molecule or a failed score."""
    if not valid:
        return ""
    try:
        v = float(fn(smiles))
    except Exception:  # noqa: BLE001 - a score RDKit cannot compute is left empty, the row stays
        return ""
    return f"{v:.3f}" if math.isfinite(v) else ""
