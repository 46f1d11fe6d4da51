"""Energy-based cooperative learning for multi-domain image-to-image translation.

Song, Zhu, He, Wu, Xie, "Progressive Energy-Based Cooperative Learning for Multi-Domain
Image-to-Image Translation", arXiv 2306.14448 (PMD-CoopNets). Only the abstract and the
supplement could be read (``shared/papers/coop-i2i.md``): the iteration below is reconstructed
from the abstract and the authors' CoopNets / CycleCoopNets code, every unread choice an option.

Descriptor (one head per domain k, CoopNets' form with a Gaussian reference):
    p_theta(x | k) ∝ exp(f_theta(x)[k]) N(x; 0, s_ref² I),
    E(x | k) = -f_theta(x)[k] + ||x||² / (2 s_ref²)      (``energy``; ``ref_sigma=None`` drops the term).
One iteration (the core's ``CooperativeModule`` step, ONE backward of the summed losses):
    1. draw a target domain y' and a style for each source x of the batch: a reference x_ref of
       domain y' (another example of the batch) with s = E(x_ref)[y'], or z ~ N(0, I) with
       s = M(z)[y'] (``ref_fraction`` of the rows use a reference); x_hat = G(x, s)  (``propose``);
    2. Langevin revision under head y' from x_hat (the core's ``langevin``):
           x <- x - (delta²/2)(x / s_ref² - grad_x f(x)[y']) + delta * noise_scale * eps
       (``revision``; ``noise_scale: 0`` is CycleCoopNets' code, which draws eps and never adds it);
    3. descriptor: sum over domains k of [mean f(x_tilde)[k] over revised samples of target k
       minus mean f(x)[k] over real images of domain k]  (``energy_loss``);
    4. MCMC teaching: ||x_tilde - x_hat||² / (2 sigma²) per example (the core's
       ``initializer_loss``), gradients into G and, through s, into M or E; plus StarGAN v2's
       extra losses, each a switch by its weight (``lambda_sty``, ``lambda_ds``, ``lambda_cyc``).
Progressive growth (``stages``): the nets are built for ``image_size`` and trained at the stage's
resolution (images average-pooled), stage i lasting ``stage_steps[i]`` iterations.

The StarGAN-v2-style adversarial baseline (``objective: adversarial``; Choi, Uh, Yoo, Ha, CVPR
2020, ``core/solver.py`` of clovaai/stargan-v2) trains the SAME four nets with the descriptor as a
multi-head discriminator D(x)[k] = f_theta(x)[k] (a logit), with the losses
    D: softplus(-D(x)[y]) + softplus(D(x_hat.detach())[y']) + (gamma / 2) ||grad_x D(x)[y]||²
       (non-saturating loss, R1 on reals, Mescheder et al. 2018; ``r1_gamma``),
    G, E, M: softplus(-D(x_hat)[y']) + the same switched extra losses,
with no Langevin revision in training (the revision schedule is used only by evaluation).
``adversarial_updates="alternating"`` (the default) follows the official solver's iteration
(``Solver.train``): a D step on latent-guided fakes, a D step on reference-guided fakes (each its
own backward and optimiser step, the second against the D of the first), then a G/E/M step on the
latent-guided generator loss and a G-only step on the reference-guided one, both against the
updated D; the extra losses' second style comes from z2 (latent) or from a second reference of
the target domain (reference) and the diversity term's second translation is detached, as there.
The base still owns ``training_step``: ``propose`` gives the latent-guided fakes (no grad),
``energy_loss`` the first D loss, ``initializer_loss`` None, and :meth:`step_optimizers` takes the
four updates (``alternating_updates``). ``"simultaneous"`` is the earlier baseline (one backward of
D's and G's losses, D detached in G's loss, the per-row mix of latent and reference styles), kept
to reproduce ``digits-cpu.json``. ``ema_beta`` keeps StarGAN v2's moving average of G, E and M
(its ``moving_average``, beta 0.999), updated after every iteration, used by evaluation and
checkpointed with the weights (any objective).
Not as in the official solver: the EMA starts as a copy of the initialised nets (StarGAN v2 copies
them before its He initialisation); our D, G, E, M are the package's nets; one iteration is five
optimiser steps in Lightning's ``global_step`` (``optimizer_steps_per_iteration``), so
``max_steps`` is 5 x the iterations, and a cosine LR schedule, sized for 3 steps per iteration,
would be stretched; no DDP (frozen nets switch between backward passes).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.artifacts import save_image_grid
from latent_ebm.core.checks import check_int, check_real, require
from latent_ebm.core.lightning import CooperativeModule, OptimConfig
from latent_ebm.core.rng import register_stream
from latent_ebm.core.samplers import LangevinSchedule

from .nets import Descriptor, StyleEncoder, StyleGenerator, Translator

__all__ = ["CoopI2IModule", "DESCRIPTOR_OPTIM", "REVISION", "TRANSLATOR_OPTIM", "r1_penalty"]

STYLE_STREAM = register_stream("coop_i2i.style_noise", 0xC012)  # z of the latent-guided styles
STYLE2_STREAM = register_stream("coop_i2i.style_noise_ds", 0xC013)  # the diversity loss's second z

# CPU defaults (the paper's are [UNK]); paper.yaml sets CoopNets' T = 15, delta = 0.002,
# s_ref = 0.016 and StarGAN v2's Adam (lr 1e-4, betas (0, 0.99), weight decay 1e-4).
REVISION = LangevinSchedule(n_steps=15, step_size=0.05, noise_scale=1.0)
DESCRIPTOR_OPTIM = OptimConfig(lr=2e-4, algorithm="adam", betas=(0.5, 0.999))  # CycleCoopNets' Adam
TRANSLATOR_OPTIM = OptimConfig(lr=2e-4, algorithm="adam", betas=(0.5, 0.999))


def _psnr(a: Tensor, b: Tensor) -> Tensor:
    """Per-image PSNR (dB) of images in [-1, 1] (peak-to-peak 2)."""
    mse = (a.clamp(-1, 1) - b).flatten(1).square().mean(1).clamp_min(1e-10)
    return 10 * torch.log10(4.0 / mse)


@contextmanager
def frozen(*nets: nn.Module) -> Iterator[None]:
    """Parameters of ``nets`` with ``requires_grad`` off inside the block (gradients still flow
    through them to their inputs), restored after."""
    flags = [(p, p.requires_grad) for net in nets for p in net.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def r1_penalty(logits: Tensor, x: Tensor) -> Tensor:
    """R1 (Mescheder, Geiger, Nowozin 2018, eq. 9 without gamma / 2): mean over the batch of
    ||grad_x D(x)||² for the per-example logits (B,) of the reals ``x`` (which must require grad);
    differentiable (``create_graph``) so the discriminator learns from it. StarGAN v2's ``r1_reg``
    is half of it, with weight 1."""
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.flatten(1).square().sum(1).mean()


class CoopI2IModule(CooperativeModule):
    """Multi-head descriptor, translator, style encoder and style generator learned by multi-domain
    MCMC teaching.

    Args:
        image_size, channels, n_domains: images (channels, image_size, image_size) of K domains.
        style_dim: S, the style code (paper: 64). latent_dim: z of the style generator (paper: 16).
        dim_base, max_dim: channels at the outer level and the cap (paper: 64, 512).
        bottleneck, n_bottleneck: the translator's inner resolution and its number of blocks there.
        translator_skip: how the source reaches G's output besides the AdaIN bottleneck: ``none``
            (StarGAN v2's AFHQ translator), ``unet`` (encoder features added to the decoder at every
            level), ``hpf`` (the same through a high-pass filter, StarGAN v2's face translator
            without landmark masks) or ``residual`` (x + G's output); see ``nets.Translator``.
        translator_out_norm: G's to-RGB normalisation: ``in`` (StarGAN v2's, style-free), ``adain``
            (style-conditioned) or ``none``; see ``nets.Translator``.
        mapping_hidden, mapping_shared, mapping_head: the style generator (paper: 512, 4, 4).
        ref_sigma: s_ref of the descriptor's Gaussian reference (CoopNets: 0.016); None: no term.
        langevin_noise: False revises without the noise term, as CoopNets' / CycleCoopNets' code
            does (it draws the noise and forgets to add it: a gradient descent on the energy); True
            adds ``revision.noise_scale`` x delta x eps (the Langevin equation as written).
        ref_fraction: share of the rows whose style comes from a reference (E) instead of z (M).
        energy_reg: alpha of a score penalty alpha * (mean f(x)[y]² + mean f(x_tilde)[y']²) added to
            the descriptor's loss (Du & Mordatch 2019's regulariser; the paper's descriptor
            regulariser could not be read [UNK], 0 switches it off).
        mcmc_teaching: False drops the teaching term (an ablation: the translator then learns from
            the extra losses only while the descriptor still learns from its revisions).
        lambda_sty: style reconstruction |E(G(x, s))[y'] - s|_1 (StarGAN v2; 0 switches it off).
        lambda_ds, ds_decay_steps: diversity sensitivity -|G(x, s1) - G(x, s2)|_1, its weight
            decayed linearly to 0 over ``ds_decay_steps`` iterations (None: constant).
        ds_detach: True stops the gradient through the second translation G(x, s2), as StarGAN
            v2's ``compute_g_loss`` does (the ``paper`` config; [UNK] for the cooperative paper);
            False (default, what the CPU benchmarks ran) pushes both translations apart. The
            alternating adversarial baseline always detaches, as the official solver does.
        lambda_cyc: cycle consistency |G(G(x, s), E(x)[y]) - x|_1.
        mapping_lr_scale: the style generator's lr relative to ``initializer_optim`` (StarGAN
            v2: 1e-6 / 1e-4 = 0.01).
        stages, stage_steps: progressive growth: ascending resolutions ending at image_size and
            the iterations of every stage but the last (None: one stage at image_size).
        objective: ``cooperative`` (the method: multi-domain MCMC teaching) or ``adversarial``
            (the StarGAN-v2-style baseline: the descriptor as a multi-head discriminator with the
            non-saturating loss and R1, simultaneous D and G/E/M updates; no revision in training;
            validation's ``energy_gap`` is then the discriminator's loss without R1).
        adversarial_updates: ``alternating`` (StarGAN v2's solver: two D steps, then a G/E/M step
            and a G step, each its own backward, against the updated D; see the module docstring)
            or ``simultaneous`` (one backward of both losses; the earlier baseline).
        ema_beta: beta of a moving average of G, E and M after every iteration (StarGAN v2: 0.999),
            used by evaluation (``translate``, validation, predict) and checkpointed; None: off.
        r1_gamma: gamma of the R1 penalty (gamma / 2) E||grad_x D(x)[y]||² on reals (adversarial
            only; StarGAN v2: 1, i.e. its lambda_reg = 1 times 0.5 ||grad||²; 0 switches it off).
        test_refine: revise translations by Langevin at test/predict time (paper: [UNK]; off).
        predict_styles: latent styles per target domain in ``predict``'s grid.
    Args (the core's groups):
        revision: the Langevin revision (``n_steps`` T >= 1, ``step_size`` delta, ``noise_scale``).
        energy_optim: the descriptor's optimiser. initializer_optim: translator and style encoder
            (the style generator's lr is scaled by ``mapping_lr_scale``).
        initializer_sigma: sigma in the teaching loss ||x_tilde - x_hat||² / (2 sigma²).
        init_noise, seed: see the core's ``SeededModule``.
    Batches: ``{"x": (B, C, S, S), "y": (B,) domains, "index": (B,)}`` (``CoopI2IDataModule``).
    """

    def __init__(
        self,
        *,
        image_size: int = 32,
        channels: int = 3,
        n_domains: int = 3,
        style_dim: int = 64,
        latent_dim: int = 16,
        dim_base: int = 32,
        max_dim: int = 256,
        bottleneck: int = 8,
        n_bottleneck: int = 2,
        translator_skip: str = "none",
        translator_out_norm: str = "in",
        mapping_hidden: int = 512,
        mapping_shared: int = 4,
        mapping_head: int = 4,
        ref_sigma: float | None = 1.0,
        langevin_noise: bool = True,
        ref_fraction: float = 0.5,
        energy_reg: float = 0.0,
        mcmc_teaching: bool = True,
        lambda_sty: float = 1.0,
        lambda_ds: float = 1.0,
        ds_decay_steps: int | None = None,
        ds_detach: bool = False,
        lambda_cyc: float = 1.0,
        mapping_lr_scale: float = 1.0,
        stages: list[int] | None = None,
        stage_steps: list[int] | None = None,
        objective: Literal["cooperative", "adversarial"] = "cooperative",
        r1_gamma: float = 1.0,
        adversarial_updates: Literal["alternating", "simultaneous"] = "alternating",
        ema_beta: float | None = None,
        test_refine: bool = False,
        predict_styles: int = 3,
        revision: LangevinSchedule = REVISION,
        energy_optim: OptimConfig = DESCRIPTOR_OPTIM,
        initializer_optim: OptimConfig = TRANSLATOR_OPTIM,
        initializer_sigma: float = 1.0,
        init_noise: Literal["rank", "example"] = "rank",
        seed: int | None = None,
    ) -> None:
        super().__init__(revision=revision, energy_optim=energy_optim, initializer_optim=initializer_optim,
                         initializer_sigma=initializer_sigma, init_noise=init_noise, seed=seed)
        self.save_hyperparameters()
        check_int("n_domains", n_domains, low=1)
        check_int("channels", channels, low=1)
        check_int("style_dim", style_dim, low=1)
        check_int("latent_dim", latent_dim, low=1)
        check_int("dim_base", dim_base, low=1)
        check_int("max_dim", max_dim, low=1)
        check_int("mapping_hidden", mapping_hidden, low=1)
        check_real("ref_sigma", ref_sigma, low=0.0, low_open=True, allow_none=True)
        check_real("ref_fraction", ref_fraction, low=0.0, high=1.0)
        check_real("energy_reg", energy_reg, low=0.0)
        for name, v in (("lambda_sty", lambda_sty), ("lambda_ds", lambda_ds), ("lambda_cyc", lambda_cyc)):
            check_real(name, v, low=0.0)
        check_int("ds_decay_steps", ds_decay_steps, low=1, allow_none=True)
        check_real("mapping_lr_scale", mapping_lr_scale, low=0.0, low_open=True)
        check_int("predict_styles", predict_styles, low=1)
        require("objective", objective, objective in ("cooperative", "adversarial"),
                "give 'cooperative' (MCMC teaching) or 'adversarial' (the StarGAN-v2-style baseline)")
        check_real("r1_gamma", r1_gamma, low=0.0)
        require("adversarial_updates", adversarial_updates, adversarial_updates in ("alternating", "simultaneous"),
                "give 'alternating' (StarGAN v2's solver) or 'simultaneous' (one backward)")
        check_real("ema_beta", ema_beta, low=0.0, high=1.0, high_open=True, allow_none=True)
        require("langevin_noise", langevin_noise, isinstance(langevin_noise, bool), "give true or false")
        if not langevin_noise:  # CoopNets' code: the noise is drawn but never added
            self.revision_schedule = replace(self.revision_schedule, noise_scale=0.0)
        stages = [image_size] if stages is None else [int(s) for s in stages]
        require("stages", stages, len(stages) >= 1 and stages[-1] == image_size
                and all(a < b for a, b in zip(stages, stages[1:])),
                f"give ascending resolutions ending at image_size={image_size}")
        stage_steps = [] if stage_steps is None else [int(s) for s in stage_steps]
        require("stage_steps", stage_steps, len(stage_steps) == len(stages) - 1 and all(s >= 1 for s in stage_steps),
                f"give {len(stages) - 1} positive iteration counts (every stage but the last)")
        require("stages", stages, all(r > bottleneck and r >= 4 for r in stages),
                f"every stage must be >= 4 and above the translator's bottleneck={bottleneck}")
        self.stages, self.stage_steps = stages, stage_steps
        self.descriptor = Descriptor(channels, image_size, n_domains, dim_base, max_dim)
        self.translator = Translator(channels, image_size, style_dim, dim_base, max_dim, bottleneck, n_bottleneck,
                                     translator_skip, translator_out_norm)
        self.style_encoder = StyleEncoder(channels, image_size, n_domains, style_dim, dim_base, max_dim)
        self.style_generator = StyleGenerator(latent_dim, style_dim, n_domains, mapping_hidden, mapping_shared,
                                              mapping_head)
        self.ema: nn.ModuleDict | None = None
        if ema_beta is not None:  # in the state dict: checkpointed and restored with the weights
            self.ema = nn.ModuleDict({name: copy.deepcopy(getattr(self, name)).requires_grad_(False)
                                      for name in self.EMA_NETS})
        self._pending: dict[str, Any] | None = None  # the alternating step's condition, for step_optimizers

    EMA_NETS = ("translator", "style_encoder", "style_generator")

    @property
    def alternating(self) -> bool:
        """The adversarial baseline with StarGAN v2's alternating D / G updates."""
        return self.hparams.objective == "adversarial" and self.hparams.adversarial_updates == "alternating"

    @property
    def optimizer_steps_per_iteration(self) -> int:
        """Optimiser steps per training iteration, as Lightning counts them in ``global_step``
        (``trainer.max_steps`` = this x the iterations): 3 (descriptor, translator + style
        encoder, style generator), 5 in the alternating adversarial baseline (D, D, G + E, M, G)."""
        return 5 if self.alternating else 3

    # ---- batches and stages ------------------------------------------------------------------
    def split_batch(self, batch: Any) -> tuple[Tensor, Tensor | None]:
        """(x, indices) from ``{"x", "y", "index"}``; x's shape and y's domains are checked."""
        require("batch", type(batch).__name__, isinstance(batch, Mapping) and "x" in batch and "y" in batch,
                "give a dict {'x': ..., 'y': ..., 'index': ...} (CoopI2IDataModule's batches)")
        x, y = batch["x"], batch["y"]
        h = self.hparams
        want = (h.channels, h.image_size, h.image_size)
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        require("x.shape", got, isinstance(x, Tensor) and x.dim() == 4 and tuple(x.shape[1:]) == want,
                f"this model expects (B, {', '.join(map(str, want))}); set model.image_size / model.channels "
                "to the data's")
        self.check_domains(y, "y")
        return x, batch.get("index")

    def check_domains(self, y: Tensor, name: str = "target") -> Tensor:
        """y as a long tensor, every value in 0..K-1 (else a one-line ValueError naming it)."""
        y = torch.as_tensor(y)
        bad = (y < 0) | (y >= self.hparams.n_domains)
        require(name, sorted(set(y[bad].tolist()))[:3], not bool(bad.any()),
                f"domains are 0..{self.hparams.n_domains - 1} (n_domains={self.hparams.n_domains})")
        return y.long()

    def stage(self, iteration: int | None = None) -> int:
        """Index of the progressive stage at ``iteration`` (default: the training iterations so far)."""
        t = self.iterations if iteration is None else iteration
        for i, steps in enumerate(self.stage_steps):
            if t < steps:
                return i
            t -= steps
        return len(self.stages) - 1

    @property
    def resolution(self) -> int:
        """The current stage's resolution."""
        return self.stages[self.stage()]

    def at_resolution(self, x: Tensor, resolution: int | None = None) -> Tensor:
        """Images average-pooled to ``resolution`` (default: the current stage's)."""
        r = self.resolution if resolution is None else resolution
        return x if x.shape[-1] == r else F.adaptive_avg_pool2d(x, r)

    # ---- the four networks --------------------------------------------------------------------
    def generator_nets(self) -> tuple[nn.Module, nn.Module, nn.Module]:
        """(G, E, M): their moving averages when ``ema_beta`` is set and the module is in eval
        mode (StarGAN v2 evaluates ``nets_ema``), else the trained nets."""
        nets = self.ema if (self.ema is not None and not self.training) else self
        return tuple(nets.get_submodule(name) for name in self.EMA_NETS)

    @torch.no_grad()
    def update_ema(self) -> None:
        """ema <- beta ema + (1 - beta) net for G, E and M (StarGAN v2's ``moving_average``);
        buffers copied. No-op without ``ema_beta``."""
        if self.ema is None:
            return
        w = 1.0 - float(self.hparams.ema_beta)
        for name in self.EMA_NETS:
            net, avg = getattr(self, name), self.ema[name]
            for p, q in zip(net.parameters(), avg.parameters(), strict=True):
                q.lerp_(p, w)
            for b, c in zip(net.buffers(), avg.buffers(), strict=True):
                c.copy_(b)

    def scores(self, x: Tensor) -> Tensor:
        """f_theta(x) (B, K): the descriptor's score (negative energy) under every domain head."""
        return self.descriptor(x)

    def energy(self, x: Tensor, cond: Any) -> Tensor:
        """E(x | y') = -f(x)[y'] + ||x||² / (2 s_ref²) per example, y' = ``cond["target"]`` (or a
        tensor of target domains)."""
        target = cond["target"] if isinstance(cond, Mapping) else cond
        e = -self.scores(x).gather(1, target.view(-1, 1).to(x.device)).squeeze(1)
        if self.hparams.ref_sigma is not None:
            e = e + x.flatten(1).square().sum(1) / (2 * self.hparams.ref_sigma**2)
        return e

    def style(self, target: Tensor, *, z: Tensor | None = None, ref: Tensor | None = None) -> Tensor:
        """The style code (B, S) for domains ``target``: E(ref)[target] or M(z)[target]."""
        require("style", "both" if (z is None) == (ref is None) else "one", (z is None) != (ref is None),
                "give exactly one of z (latent-guided) or ref (reference-guided)")
        _, enc, gen = self.generator_nets()
        codes = enc(self.at_resolution(ref)) if ref is not None else gen(z)
        return codes[torch.arange(len(target), device=codes.device), target.to(codes.device)]

    def translate(self, x: Tensor, target: Tensor, *, z: Tensor | None = None, ref: Tensor | None = None,
                  refine: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """G(x, s) at the current resolution, s from ``z`` (M) or ``ref`` (E); ``refine``: then
        the Langevin revision under the target heads (test-time refinement). In eval mode with
        ``ema_beta`` set, G, E and M are their moving averages (:meth:`generator_nets`)."""
        target = self.check_domains(target)
        out = self.generator_nets()[0](self.at_resolution(x), self.style(target, z=z, ref=ref))
        if refine:
            with torch.enable_grad():
                out = self.revise(out, {"target": target}, generator=generator)
        return out

    def descriptor_translate(self, x: Tensor, target: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Descriptor-only translation (a baseline): Langevin from the source under the target
        heads with the ``revision`` schedule, no translator."""
        target = self.check_domains(target)
        with torch.enable_grad():
            return self.revise(self.at_resolution(x), {"target": target}, generator=generator)

    def energy_parameters(self) -> Iterable[nn.Parameter]:
        return self.descriptor.parameters()

    def initializer_parameters(self) -> Iterable[nn.Parameter]:
        return [*self.translator.parameters(), *self.style_encoder.parameters(), *self.style_generator.parameters()]

    def optimizer_groups(self) -> list[tuple[list[nn.Parameter], OptimConfig]]:
        """Descriptor; translator + style encoder; style generator (lr x ``mapping_lr_scale``)."""
        mapping = replace(self.initializer_optim, lr=self.initializer_optim.lr * self.hparams.mapping_lr_scale)
        return [(list(self.descriptor.parameters()), self.energy_optim),
                ([*self.translator.parameters(), *self.style_encoder.parameters()], self.initializer_optim),
                (list(self.style_generator.parameters()), mapping)]

    # ---- the base's hooks ----------------------------------------------------------------------
    def condition(self, batch: Any) -> dict[str, Any]:
        """Per row: the target domain and its reference (a random other row of the batch, so the
        target follows the data's domain frequencies), whether the style comes from it or from
        z ~ N(0, I), and z (plus a second z for the diversity loss)."""
        x, idx = self.split_batch(batch)
        n = x.shape[0]
        perm = torch.randperm(n, generator=self.rng).to(x.device)
        use_ref = (torch.rand(n, generator=self.rng) < self.hparams.ref_fraction).to(x.device)
        shape = (self.hparams.latent_dim,)
        z = self.standard_normal(shape, n, idx=idx, stream=STYLE_STREAM).to(x.dtype)
        z2 = self.standard_normal(shape, n, idx=idx, stream=STYLE2_STREAM).to(x.dtype)
        y = self.check_domains(batch["y"], "y").to(x.device)
        cond = {"y": y, "target": y[perm], "ref": x[perm], "use_ref": use_ref, "z": z, "z2": z2, "logs": {}}
        if self.alternating:  # StarGAN v2's x_ref2: a second reference of each row's target domain
            same = y[None, :] == cond["target"][:, None]
            pick = torch.where(same, torch.rand(n, n, generator=self.rng).to(x.device), -1.0).argmax(1)
            cond["ref2"] = x[pick]
        return cond

    def data(self, batch: Any, cond: Any) -> Tensor:
        """Real images at the stage's resolution."""
        return self.at_resolution(self.split_batch(batch)[0])

    def propose(self, batch: Any, cond: dict[str, Any]) -> Tensor:
        """x_hat = G(x, s), s = E(x_ref)[y'] on reference rows, M(z)[y'] on the others (kept in
        ``cond["style"]`` for the extra losses)."""
        x = self.data(batch, cond)
        t = cond["target"]
        cond["source"] = x
        if self.alternating and self.training:  # the first D step's latent-guided fakes (no grad)
            with torch.no_grad():
                return self.translator(x, self.style(t, z=cond["z"]))
        s_ref = self.style(t, ref=cond["ref"])
        s_lat = self.style(t, z=cond["z"])
        s = torch.where(cond["use_ref"][:, None], s_ref, s_lat)
        cond["style"] = s
        return self.generator_nets()[0](x, s)

    def energy_loss(self, x_data: Tensor, x_revised: Tensor, cond: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """sum_k [mean_{y'_i = k} f(x_tilde_i)[k] - mean_{y_i = k} f(x_i)[k]] over the domains present
        (positives under their own head, revised translations under their target head), plus the
        optional score penalty ``energy_reg``."""
        if self.hparams.objective == "adversarial":
            return self.discriminator_loss(x_data, x_revised, cond)
        f_pos = self.scores(x_data).gather(1, cond["y"].view(-1, 1)).squeeze(1)
        f_neg = self.scores(x_revised.detach()).gather(1, cond["target"].view(-1, 1)).squeeze(1)
        loss = f_pos.new_zeros(())
        for k in range(self.hparams.n_domains):
            pos, neg = cond["y"] == k, cond["target"] == k
            loss = loss + (f_neg * neg).sum() / neg.sum().clamp_min(1) - (f_pos * pos).sum() / pos.sum().clamp_min(1)
        if self.hparams.energy_reg > 0:
            loss = loss + self.hparams.energy_reg * (f_pos.square().mean() + f_neg.square().mean())
        return loss, {"train/f_real": f_pos.mean().detach(), "train/f_revised": f_neg.mean().detach()}

    def ds_weight(self) -> float:
        """lambda_ds, decayed linearly to 0 over ``ds_decay_steps`` iterations (StarGAN v2)."""
        h = self.hparams
        if h.ds_decay_steps is None:
            return float(h.lambda_ds)
        return float(h.lambda_ds) * max(0.0, 1.0 - self.iterations / h.ds_decay_steps)

    def initializer_loss(self, x_init: Tensor, x_revised: Tensor, cond: Any) -> Tensor | None:
        """MCMC teaching ||x_tilde - x_hat||² / (2 sigma²) (the core's) plus the switched-on extra
        losses of StarGAN v2 (style reconstruction, diversity sensitivity, cycle consistency)."""
        if self.alternating:  # the generator's losses come after D's update (step_optimizers)
            self._pending = cond
            return None
        if self.hparams.objective == "adversarial":
            return self.generator_loss(x_init, cond)
        teach = super().initializer_loss(x_init, x_revised, cond)
        loss, logs = self.extra_losses(x_init, cond, detach_ds=self.hparams.ds_detach)
        cond["logs"] = {"train/teach_loss": teach.detach(), **logs}
        return loss + (teach if self.hparams.mcmc_teaching else 0.0 * teach)

    def extra_losses(self, x_init: Tensor, cond: Any, *, style2: Tensor | None = None,
                     detach_ds: bool = False) -> tuple[Tensor, dict[str, Tensor]]:
        """lambda_sty |E(x_hat)[y'] - s|_1 - w_ds |x_hat - G(x, s2)|_1 + lambda_cyc |G(x_hat, E(x)[y]) - x|_1
        (StarGAN v2's ``compute_g_loss`` terms, each skipped at weight 0), and their logs. s2 is
        ``style2`` or M(z2)[y']; ``detach_ds`` stops the gradient through G(x, s2) (StarGAN v2 does;
        the other paths follow ``ds_detach``)."""
        h = self.hparams
        logs: dict[str, Tensor] = {}
        loss = x_init.new_zeros(())
        t, s = cond["target"], cond["style"]
        if h.lambda_sty > 0:
            s_pred = self.style(t, ref=x_init)
            sty = (s_pred - s).abs().mean()
            loss = loss + h.lambda_sty * sty
            logs["train/style_loss"] = sty.detach()
        w_ds = self.ds_weight()
        if h.lambda_ds > 0 and w_ds > 0:
            with torch.no_grad() if detach_ds else torch.enable_grad():
                x2 = self.translator(cond["source"], self.style(t, z=cond["z2"]) if style2 is None else style2)
            ds = (x_init - x2).abs().mean()
            loss = loss - w_ds * ds
            logs["train/ds_loss"] = ds.detach()
        if h.lambda_cyc > 0:
            s_src = self.style(cond["y"], ref=cond["source"])
            cyc = (self.translator(x_init, s_src) - cond["source"]).abs().mean()
            loss = loss + h.lambda_cyc * cyc
            logs["train/cycle_loss"] = cyc.detach()
        return loss, logs

    # ---- the adversarial baseline (StarGAN v2), through the same base step -----------------------
    def revise(self, x_init: Tensor, cond: Any, **kw: Any) -> Tensor:
        """The base's Langevin revision; in adversarial training none (the fakes are G's outputs)."""
        if self.hparams.objective == "adversarial" and self.training:
            return x_init.detach()
        return super().revise(x_init, cond, **kw)

    def discriminator_loss(self, x_data: Tensor, x_fake: Tensor, cond: Any) -> tuple[Tensor, dict[str, Tensor]]:
        """softplus(-D(x)[y]) + softplus(D(x_hat)[y']) (batch means; the non-saturating GAN loss
        as StarGAN v2's BCE with logits) + (r1_gamma / 2) R1 on the reals (when grad is on)."""
        gamma = self.hparams.r1_gamma
        r1_on = gamma > 0 and torch.is_grad_enabled()
        x = x_data.detach().requires_grad_(True) if r1_on else x_data
        d_real = self.scores(x).gather(1, cond["y"].view(-1, 1)).squeeze(1)
        d_fake = self.scores(x_fake.detach()).gather(1, cond["target"].view(-1, 1)).squeeze(1)
        loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        logs = {"train/d_real": d_real.mean().detach(), "train/d_fake": d_fake.mean().detach()}
        if r1_on:
            r1 = r1_penalty(d_real, x)
            loss = loss + 0.5 * gamma * r1
            logs["train/r1"] = r1.detach()
        return loss, logs

    def generator_loss(self, x_fake: Tensor, cond: Any) -> Tensor:
        """softplus(-D(x_hat)[y']) + the extra losses. D's parameters enter detached
        (``functional_call``), so the base's ONE backward of the summed losses gives D only its own
        loss's gradient and G/E/M only theirs: a simultaneous update where StarGAN v2 alternates
        (its G step sees the D of the same iteration after D's step)."""
        frozen = {k: v.detach() for k, v in self.descriptor.named_parameters()}
        logits = torch.func.functional_call(self.descriptor, frozen, (x_fake,))
        adv = F.softplus(-logits.gather(1, cond["target"].view(-1, 1)).squeeze(1)).mean()
        extra, logs = self.extra_losses(x_fake, cond, detach_ds=self.hparams.ds_detach)
        cond["logs"] = {"train/g_adv": adv.detach(), **logs}
        return adv + extra

    def generator_pass(self, cond: Any, guide: Literal["latent", "reference"]) -> tuple[Tensor, dict[str, Tensor]]:
        """StarGAN v2's ``compute_g_loss`` for one guide: s = M(z)[y'] and s2 = M(z2)[y'] (latent) or
        s = E(x_ref)[y'] and s2 = E(x_ref2)[y'] (reference); softplus(-D(G(x, s))[y']) + the
        extra losses with the diversity term's G(x, s2) detached."""
        x, t = cond["source"], cond["target"]
        if guide == "latent":
            s, s2 = self.style(t, z=cond["z"]), self.style(t, z=cond["z2"])
        else:
            s, s2 = self.style(t, ref=cond["ref"]), self.style(t, ref=cond["ref2"])
        fake = self.translator(x, s)
        adv = F.softplus(-self.scores(fake).gather(1, t.view(-1, 1)).squeeze(1)).mean()
        extra, logs = self.extra_losses(fake, {**cond, "style": s}, style2=s2, detach_ds=True)
        return adv + extra, {"g_adv": adv.detach(), **{k.removeprefix("train/"): v for k, v in logs.items()}}

    def _update(self, loss: Tensor, steps: Sequence[tuple[Any, OptimConfig]]) -> None:
        """Zero every optimiser's gradients (StarGAN v2's ``_reset_grad``), one backward of ``loss``,
        then clip and step only the given optimisers."""
        for opt in self.optimizers():
            opt.zero_grad()
        self.manual_backward(loss)
        for opt, cfg in steps:
            if cfg.grad_clip is not None:
                self.clip_gradients(opt, gradient_clip_val=cfg.grad_clip, gradient_clip_algorithm="norm")
            opt.step()

    def alternating_updates(self, loss_d_latent: Tensor, cond: Any) -> None:
        """StarGAN v2's iteration (``Solver.train``) after the base's D loss on latent-guided fakes:
        D step; D loss on reference-guided fakes (from the updated nets, no grad) and D step; the
        latent-guided generator loss against the updated D (D frozen) and a step of G + E and M;
        the reference-guided one (D and E frozen) and a step of G + E's optimiser, where E has no
        gradient, so only G moves (StarGAN v2 steps only G there)."""
        opt_d, opt_g, opt_m = self.optimizers()
        mapping = replace(self.initializer_optim, lr=self.initializer_optim.lr * self.hparams.mapping_lr_scale)
        self._update(loss_d_latent, [(opt_d, self.energy_optim)])
        x, t = cond["source"], cond["target"]
        with torch.no_grad():
            fake_ref = self.translator(x, self.style(t, ref=cond["ref"]))
        loss_d_ref, logs_d = self.discriminator_loss(x, fake_ref, cond)
        self._update(loss_d_ref, [(opt_d, self.energy_optim)])
        with frozen(self.descriptor):
            loss_lat, logs_lat = self.generator_pass(cond, "latent")
            self._update(loss_lat, [(opt_g, self.initializer_optim), (opt_m, mapping)])
        with frozen(self.descriptor, self.style_encoder):
            loss_ref, logs_ref = self.generator_pass(cond, "reference")
            self._update(loss_ref, [(opt_g, self.initializer_optim)])
        cond["logs"] = {"train/d_loss_ref": loss_d_ref.detach(),
                        **{f"train/{k}_latent": v for k, v in logs_lat.items()},
                        **{f"train/{k}_ref": v for k, v in logs_ref.items()}}

    def step_optimizers(self, loss: Tensor) -> None:
        """The base's update (one backward, every optimiser), or in the alternating adversarial
        baseline :meth:`alternating_updates` and the LR schedulers; then the EMA (``ema_beta``)."""
        cond, self._pending = self._pending, None
        if cond is None:
            super().step_optimizers(loss)
        else:
            self.alternating_updates(loss, cond)
            schedulers = self.lr_schedulers()
            for sch in [] if schedulers is None else schedulers if isinstance(schedulers, list) else [schedulers]:
                sch.step()
        self.update_ema()

    def training_logs(self, x: Tensor, x_init: Tensor, x_revised: Tensor, cond: Any) -> dict[str, Tensor]:
        return {**cond["logs"], "train/resolution": torch.tensor(float(x.shape[-1]))}

    # ---- evaluation ----------------------------------------------------------------------------
    def eval_step(self, batch: Any, stage: str) -> Tensor:
        """The base's energy gap; with the data's fixed references, the reference-guided PSNR to
        the exact re-rendering (``<stage>/ref_psnr``) when the batch has one."""
        gap = super().eval_step(batch, stage)
        if "x_ref" in batch and "x_oracle" in batch:
            with torch.no_grad():
                out = self.translate(batch["x"], batch["y_ref"], ref=batch["x_ref"])
                psnr = _psnr(out, self.at_resolution(batch["x_oracle"])).mean()
            self.log(f"{stage}/ref_psnr", psnr, batch_size=len(out), sync_dist=True, prog_bar=True)
        return gap

    # ---- predict ----------------------------------------------------------------------------------
    def predict_step(self, batch: Any, batch_idx: int) -> dict[str, Tensor]:
        """Translations of the batch's sources: to every domain with ``predict_styles`` latent
        styles each, with every row's reference, and descriptor-only (Langevin from the source)."""
        x, _ = self.split_batch(batch)
        h = self.hparams
        g = torch.Generator().manual_seed(self.base_seed + 17 * batch_idx)
        n, k, m = x.shape[0], h.n_domains, h.predict_styles
        refs = batch.get("x_ref", x.flip(0))
        y_ref = batch.get("y_ref", batch["y"].flip(0))
        with torch.no_grad():
            z = torch.randn(k * m, h.latent_dim, generator=g).to(x)
            lat = []
            for d in range(k):
                for j in range(m):
                    tgt = torch.full((n,), d, dtype=torch.long, device=x.device)
                    lat.append(self.translate(x, tgt, z=z[d * m + j].expand(n, -1), refine=h.test_refine,
                                              generator=g))
            ref = [self.translate(x, y_ref[i].expand(n), ref=refs[i: i + 1].expand(n, -1, -1, -1),
                                  refine=h.test_refine, generator=g) for i in range(n)]
        desc = [self.descriptor_translate(x, torch.full((n,), d, dtype=torch.long, device=x.device), generator=g)
                for d in range(k)]
        src = self.at_resolution(x)
        return {"source": src.cpu(), "reference": self.at_resolution(refs).cpu(),
                "latent": torch.stack(lat, 1).detach().cpu(), "by_reference": torch.stack(ref, 1).detach().cpu(),
                "descriptor": torch.stack(desc, 1).detach().cpu()}

    def write_predictions(self, predictions: Sequence[dict[str, Tensor]], out_dir: Path) -> list[Path]:
        """``latent_grid.png`` (rows: source, then K x predict_styles latent-guided translations),
        ``reference_grid.png`` (top row: the references; row i: source i, then its translation
        with each reference's style) and ``descriptor_grid.png`` (source, then descriptor-only
        translations to each domain)."""
        cat = {key: torch.cat([p[key] for p in predictions]) for key in predictions[0]}
        src, out_dir = cat["source"], Path(out_dir)
        lat = torch.cat([src[:, None], cat["latent"]], 1)
        blank = torch.ones_like(src[:1])
        top = torch.cat([blank, cat["reference"]])[None]  # (1, n + 1, ...)
        ref_rows = torch.cat([src[:, None], cat["by_reference"]], 1)  # (n, n + 1, ...)
        refs = torch.cat([top, ref_rows])
        desc = torch.cat([src[:, None], cat["descriptor"]], 1)
        written = []
        for name, grid in (("latent_grid.png", lat), ("reference_grid.png", refs), ("descriptor_grid.png", desc)):
            written.append(save_image_grid(grid.flatten(0, 1).nan_to_num(0.0), out_dir / name, nrow=grid.shape[1]))
        return written
