"""LEO: offline black-box optimisation in an energy-based latent space.

Yu et al., "Latent Energy-Based Odyssey: Black-Box Optimization via Expanded Exploration in the
Energy-Based Latent Space", arXiv 2405.16730v1. The paper body could not be read here; the
structure below follows the abstract and the group's latent-EBM formulation, and every
reconstructed choice is an option (README, "what is reconstructed"):

    model      p(x, y, z) = p_alpha(z) p_beta(x | z) p_gamma(y | z)
               p_alpha(z) ∝ exp(f_alpha(z)) N(z; 0, I)        core EnergyPrior (f: nets.WaymarkRatios)
               p_beta(x | z): per-position categorical (sequences) or N(g(z), sigma² I)
               p_gamma(y | z) = N(y; r_gamma(z), sigma_y²)    (y standardised by the data module)
    learning   ELBO = E_q[log p(x | z) + log p(y | z)] - KL(q_phi(z | x, y) || p_alpha(z)),
               KL = KL(q || N(0, I)) - E_q[f_alpha(z)] + log Z(alpha): phi, beta, gamma ascend it
               (f enters through z only; log Z does not depend on them)
    prior      ``prior="ntre"``: f = sum_k h_k learned by NTRE on z ~ q (ntre.py), no MCMC;
               ``prior="mcmc"``: LEBM's rule, E_q[grad f] - E_{p_alpha}[grad f] with short-run
               Langevin prior samples (core EnergyPrior.contrastive_loss);
               ``prior="gaussian"``: f = 0 (the ablation)
    design     z ~ p(z | y*) ∝ exp(f(z)) N(z; 0, I) N(y*; r(z), sigma_y²) by Langevin (core
               ``langevin_from_schedule``), y* = the training best + ``y_star_offset``; decode
               x = argmax p(x | z); keep the ``n_candidates`` chains with the highest r(z).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed
from latent_ebm.core.lightning import OptimConfig, SeededModule
from latent_ebm.core.nn import gaussian_kl
from latent_ebm.core.priors import EnergyPrior, GaussianPrior
from latent_ebm.core.rng import register_stream
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from .metrics import diversity
from .nets import DesignDecoder, Encoder, Regressor, WaymarkRatios
from .ntre import ntre_loss
from .tasks import percentile_scores

__all__ = ["LEOModule"]

# Reconstructed defaults (no hyperparameters of the paper were retrieved): LEBM's prior Langevin
# (60 x 0.4) for the MCMC learner; design Langevin 100 steps of 0.1 from N(0, I); Adam 1e-3.
PRIOR_LANGEVIN = LangevinSchedule(n_steps=60, step_size=0.4)
DESIGN_LANGEVIN = LangevinSchedule(n_steps=100, step_size=0.1)
OPTIM = OptimConfig(lr=1e-3, algorithm="adam")
PRIOR_OPTIM = OptimConfig(lr=1e-3, algorithm="adam")

_Q_STREAM = register_stream("leo.posterior_noise", 0x1E0)
_W_STREAM = register_stream("leo.waymark_noise", 0x1E1)
_PRIOR_STREAM = register_stream("leo.prior_start", 0x1E2)
_EVAL_DESIGN_SEED = 7919  # design during validate/test uses its own generator (training RNG untouched)


class LEOModule(SeededModule):
    """LEO on a design space of ``design_dim`` tokens over ``n_classes`` letters (or ``design_dim``
    floats when ``n_classes=0``).

    Args (model): design_dim, n_classes, latent_dim, hidden (encoder/decoder/regressor width),
        obs_sigma (Gaussian decoder's sigma, continuous designs), y_sigma (sigma_y),
        prior (``ntre`` | ``mcmc`` | ``gaussian``), prior_hidden, n_waymarks (K),
        noise_magnitude (NTRE's M >= 1; 1 is plain TRE), kl_weight.
    Args (design): design_langevin, y_star_offset (y* above the training best, in standardised
        units), n_candidates (128: Design-Bench's budget), oversample (chains per candidate; the
        top ``n_candidates`` by r(z) are kept).
    Args (groups): prior_langevin (MCMC learner's prior chains), optim (encoder, decoder,
        regressor), prior_optim (f), init_noise, seed.
    """

    def __init__(
        self,
        *,
        design_dim: int = 8,
        n_classes: int = 4,
        latent_dim: int = 16,
        hidden: int = 256,
        obs_sigma: float = 0.1,
        y_sigma: float = 0.1,
        prior: Literal["ntre", "mcmc", "gaussian"] = "ntre",
        prior_hidden: int = 128,
        n_waymarks: int = 4,
        noise_magnitude: float = 4.0,
        kl_weight: float = 1.0,
        design_langevin: LangevinSchedule = DESIGN_LANGEVIN,
        y_star_offset: float = 1.0,
        n_candidates: int = 128,
        oversample: int = 4,
        prior_langevin: LangevinSchedule = PRIOR_LANGEVIN,
        optim: OptimConfig = OPTIM,
        prior_optim: OptimConfig = PRIOR_OPTIM,
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(init_noise=init_noise, seed=seed)
        self.automatic_optimization = False
        self.design_schedule = self.group(LangevinSchedule, design_langevin, "design_langevin")
        self.prior_schedule = self.group(LangevinSchedule, prior_langevin, "prior_langevin")
        self.require_moves(self.design_schedule, "design_langevin")
        self.optim = self.group(OptimConfig, optim, "optim")
        self.prior_optim = self.group(OptimConfig, prior_optim, "prior_optim")
        self.save_hyperparameters()
        for name, value in (("design_dim", design_dim), ("latent_dim", latent_dim), ("hidden", hidden),
                            ("prior_hidden", prior_hidden), ("n_waymarks", n_waymarks),
                            ("n_candidates", n_candidates), ("oversample", oversample)):
            check_int(name, value, low=1)
        check_int("n_classes", n_classes, low=0)
        if n_classes == 1:
            raise not_allowed("n_classes", n_classes, "use 0 (continuous designs) or >= 2 letters")
        for name, value in (("obs_sigma", obs_sigma), ("y_sigma", y_sigma)):
            check_real(name, value, low=0.0, low_open=True)
        check_real("kl_weight", kl_weight, low=0.0)
        check_real("y_star_offset", y_star_offset)
        check_real("noise_magnitude", noise_magnitude, low=1.0)
        check_choice("prior", prior, ("ntre", "mcmc", "gaussian"))
        if prior == "mcmc":
            self.require_moves(self.prior_schedule, "prior_langevin")
        self.encoder = Encoder(design_dim, n_classes, latent_dim, hidden)
        self.decoder = DesignDecoder(design_dim, n_classes, latent_dim, hidden)
        self.regressor = Regressor(latent_dim, hidden)
        if prior == "gaussian":
            self.prior = GaussianPrior(latent_dim)
        else:
            f = WaymarkRatios(latent_dim, n_waymarks, prior_hidden) if prior == "ntre" else None
            self.prior = EnergyPrior(latent_dim, f=f, hidden=prior_hidden, schedule=self.prior_schedule)
        # the standardised training best (set from the data module at fit start; y* = y_best + offset)
        self.register_buffer("y_best", torch.zeros(()))

    # ---- the model's terms ------------------------------------------------------------------------
    @property
    def has_energy(self) -> bool:
        return isinstance(self.prior, EnergyPrior)

    def check_batch(self, batch: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        """(x, y, index) of a batch dict {"x", "y", "index"}, with the shapes checked."""
        if not isinstance(batch, dict) or "x" not in batch or "y" not in batch:
            raise ValueError("a LEO batch is a dict with 'x' (designs), 'y' (standardised values) and 'index'")
        x, y = batch["x"], batch["y"]
        h = self.hparams
        if x.dim() != 2 or x.shape[1] != h.design_dim:
            raise not_allowed("x.shape", tuple(x.shape), f"this model reads (B, {h.design_dim}) designs")
        if h.n_classes and (x.is_floating_point() or (x < 0).any() or (x >= h.n_classes).any()):
            raise not_allowed("x", "out-of-alphabet tokens", f"tokens must be integers in 0..{h.n_classes - 1}")
        return x, y.reshape(-1).to(self.dtype), batch.get("index")

    def design_nll(self, x: Tensor, z: Tensor) -> Tensor:
        """-log p_beta(x | z) per example, (B,): summed cross-entropy, or the Gaussian's."""
        out = self.decoder(z)
        if self.hparams.n_classes:
            return F.cross_entropy(out.transpose(1, 2), x.long(), reduction="none").sum(1)
        s = self.hparams.obs_sigma
        return (x - out).square().sum(1) / (2 * s**2)

    def value_nll(self, y: Tensor, z: Tensor) -> Tensor:
        """-log p_gamma(y | z) per example up to a constant: (y - r(z))² / (2 sigma_y²), (B,)."""
        return (y - self.regressor(z)).square() / (2 * self.hparams.y_sigma**2)

    def f_frozen(self, z: Tensor) -> Tensor:
        """f_alpha(z) with alpha held fixed (gradient to z only): the -E_q[f] term of the KL for phi."""
        if not self.has_energy:
            return z.new_zeros(z.shape[0])
        params = {k: v.detach() for k, v in self.prior.f.named_parameters()}
        return torch.func.functional_call(self.prior.f, params, (z,)).reshape(-1)

    def elbo_terms(self, x: Tensor, y: Tensor, eps: Tensor) -> dict[str, Tensor]:
        """Per-example terms of the negative ELBO at z = mu + sigma eps, and z itself."""
        mu, logvar = self.encoder(x, y)
        z = mu + (0.5 * logvar).exp() * eps
        return {"z": z, "nll_x": self.design_nll(x, z), "nll_y": self.value_nll(y, z),
                "kl": gaussian_kl(mu, logvar) - self.f_frozen(z)}

    def prior_loss(self, z_q: Tensor, idx: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """The prior learner's loss on aggregate-posterior samples z_q (detached)."""
        kind = self.hparams.prior
        if kind == "gaussian":
            return z_q.new_zeros(()), {}
        b, d = z_q.shape
        if kind == "ntre":
            eps = self.standard_normal((d,), b, idx=idx, stream=_W_STREAM)
            loss = ntre_loss(self.prior.f, z_q, eps, noise_magnitude=self.hparams.noise_magnitude)
            return loss, {"train/ntre_loss": loss.detach()}
        u0 = self.standard_normal((d,), b, idx=idx, stream=_PRIOR_STREAM)
        z_prior = langevin_from_schedule(self.prior.energy, u0, self.prior_schedule, generator=self.rng)
        loss = self.prior.contrastive_loss(z_q, z_prior)
        return loss, {"train/prior_loss": loss.detach()}

    # ---- training ---------------------------------------------------------------------------------
    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        x, y, idx = self.check_batch(batch)
        b = x.shape[0]
        eps = self.standard_normal((self.hparams.latent_dim,), b, idx=idx, stream=_Q_STREAM)
        t = self.elbo_terms(x, y, eps)
        loss = (t["nll_x"] + t["nll_y"] + self.hparams.kl_weight * t["kl"]).mean()
        p_loss, logs = self.prior_loss(t["z"].detach(), idx)
        self.iterations += 1
        self.step_optimizers(loss + p_loss)
        logs |= {"train/loss": loss.detach(), "train/nll_x": t["nll_x"].mean().detach(),
                 "train/nll_y": t["nll_y"].mean().detach(), "train/kl": t["kl"].mean().detach()}
        self.log_dict(logs, on_step=True, on_epoch=False, batch_size=b)
        return loss.detach()

    def optimizer_groups(self) -> list[tuple[list[torch.nn.Parameter], OptimConfig]]:
        model = [*self.encoder.parameters(), *self.decoder.parameters(), *self.regressor.parameters()]
        prior = list(self.prior.parameters())
        return [(model, self.optim)] + ([(prior, self.prior_optim)] if prior else [])

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        task = getattr(dm, "task", None)
        h = self.hparams
        if task is not None and (task.design_dim, task.n_classes) != (h.design_dim, h.n_classes):
            raise not_allowed("model.design_dim, model.n_classes", (h.design_dim, h.n_classes),
                              f"task {task.name} has designs of {task.design_dim} over {task.n_classes} letters")
        if dm is not None and getattr(dm, "y_best", None) is not None:
            self.y_best.fill_(float(dm.y_best))

    # ---- design -----------------------------------------------------------------------------------
    def y_star(self) -> float:
        return float(self.y_best) + self.hparams.y_star_offset

    def design_energy(self, z: Tensor, y_star: float) -> Tensor:
        """-log p(z | y*) + const = E_alpha(z) + (y* - r(z))² / (2 sigma_y²), (B,)."""
        return self.prior.energy(z) + (y_star - self.regressor(z)).square() / (2 * self.hparams.y_sigma**2)

    def decode(self, z: Tensor) -> Tensor:
        """The mode of p(x | z): argmax tokens (B, L) or the Gaussian mean (B, D)."""
        out = self.decoder(z)
        return out.argmax(-1) if self.hparams.n_classes else out

    def design(self, n: int | None = None, *, y_star: float | None = None,
               generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """Propose n designs (default ``n_candidates``): Langevin on p(z | y*) from N(0, I) for
        n * oversample chains, decode, keep the n with the highest r(z).
        Returns {"x": (n, L), "y_pred": (n,) standardised, "z": (n, latent)}."""
        n = self.hparams.n_candidates if n is None else n
        check_int("n", n, low=1)
        y_star = self.y_star() if y_star is None else y_star
        check_real("y_star", y_star)
        gen = generator or self.rng
        n_chains = n * self.hparams.oversample
        z0 = self.standard_normal((self.hparams.latent_dim,), n_chains, mode="rank", generator=gen)
        with torch.enable_grad():
            z = langevin_from_schedule(lambda u: self.design_energy(u, y_star), z0, self.design_schedule,
                                       generator=gen)
        with torch.no_grad():
            y_pred = self.regressor(z)
            top = y_pred.topk(n).indices
            return {"x": self.decode(z[top]), "y_pred": y_pred[top], "z": z[top]}

    # ---- evaluation -------------------------------------------------------------------------------
    def _task(self):
        dm = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        return getattr(dm, "task", None)

    def eval_step(self, batch: Any, stage: str) -> None:
        x, y, _ = self.check_batch(batch)
        with torch.no_grad():
            mu, logvar = self.encoder(x, y)
            nll_x = self.design_nll(x, mu).mean()
            rmse = (self.regressor(mu) - y).square().mean().sqrt()
            kl = gaussian_kl(mu, logvar).mean()
        self.log_dict({f"{stage}/nll_x": nll_x, f"{stage}/y_rmse": rmse, f"{stage}/kl_gauss": kl},
                      batch_size=x.shape[0], sync_dist=True)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.eval_step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.eval_step(batch, "test")

    def design_scores(self) -> dict[str, float] | None:
        """Design ``n_candidates`` with a fixed generator and score them by the task's oracle:
        the normalised 100th / 50th percentiles and the candidates' diversity (None without a task)."""
        task = self._task()
        if task is None:
            return None
        out = self.design(generator=torch.Generator().manual_seed(self.base_seed + _EVAL_DESIGN_SEED))
        scores = task.normalise(task.score(out["x"].cpu()))
        return {**percentile_scores(scores), "diversity": diversity(out["x"].cpu(), task.discrete)}

    def _log_design(self, stage: str) -> None:
        if self.trainer.sanity_checking:
            return
        scores = self.design_scores()
        if scores is not None:
            self.log_dict({f"{stage}/score_{k}": v for k, v in scores.items()}, sync_dist=False)

    def on_validation_epoch_end(self) -> None:
        self._log_design("val")

    def on_test_epoch_end(self) -> None:
        self._log_design("test")

    # ---- predict ------------------------------------------------------------------------------------
    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """As many designs as the batch has rows, from p(z | y*); with the oracle's normalised
        score where the data module has a task."""
        n = self.batch_size_of(batch["x"] if isinstance(batch, dict) else batch)
        out = self.design(n)
        task = self._task()
        rec = {"x": out["x"].cpu(), "y_pred": out["y_pred"].cpu()}
        if task is not None:
            rec["score"] = task.normalise(task.score(rec["x"]))
        return rec

    def write_predictions(self, predictions: list[dict[str, Tensor]], out_dir: Path) -> list[Path]:
        """``designs.csv``: one design per line (tokens as a string of digits, or floats), the
        regressor's standardised prediction and the oracle's normalised score when known."""
        x = torch.cat([p["x"] for p in predictions])
        y_pred = torch.cat([p["y_pred"] for p in predictions])
        score = torch.cat([p["score"] for p in predictions]) if "score" in predictions[0] else None
        lines = ["design,y_pred" + (",score" if score is not None else "")]
        for i in range(len(x)):
            d = "".join(str(int(t)) for t in x[i]) if self.hparams.n_classes else " ".join(f"{v:.4f}" for v in x[i])
            lines.append(f"{d},{y_pred[i]:.4f}" + (f",{score[i]:.4f}" if score is not None else ""))
        path = out_dir / "designs.csv"
        path.write_text("\n".join(lines) + "\n")
        return [path]
