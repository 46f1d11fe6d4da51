"""Recovery-likelihood Langevin at one level, the final Tweedie step, and the full sampler.

The step-size parameterisation (Zhu et al. 2024, App. A.2 as the official ``main_uncond.py``
``Langevin`` comments say; the equation number is unverified, the paper body could not be read):
the network output g(x~) is read as the log-density times the squared step size,
f(x~, t) = g(x~) / s_t^2, with s_t^2 = 2 step_coeff c_t sigma_t^2. Langevin on the conditional
log-density L(x~) = f(x~, t) - ||x~ - x_t||^2 / (2 sigma_t^2) (Gao et al. 2021, sec. 3) with step s_t reads

    x~ <- x~ + (s_t^2 / 2) grad L + s_t eps = x~ + (1/2) grad[g(x~) - step_coeff c_t ||x~ - x_t||^2] + s_t eps,

i.e. the gradient coefficient is 1/2 at every level. The core's ``langevin`` takes one scalar
step size, while a training batch mixes levels; the substitution y = x~ / s_t (per example)
turns the update into core ULA with step size 1 on E(y) = -L(s_t y), exactly the same chain.
The chain's settings are a core ``LangevinSchedule`` run through ``langevin_from_schedule`` on
y: its ``step_size`` multiplies every s_t (1 is the paper's), ``noise_scale`` the noise, and
``method`` / ``clip_grad`` act on y.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from latent_ebm.core.checks import check_int, require
from latent_ebm.core.nn import batch_view
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from .schedule import LevelCoefficients, NoiseSchedule

__all__ = ["guided", "revise", "sample_levels", "tweedie_denoise"]

# net(x~ (B, ...), logsnr (B,), y (B,) | None) -> (B,)
Net = Callable[[Tensor, Tensor, "Tensor | None"], Tensor]


def guided(net: Net, x: Tensor, logsnr: Tensor, labels: Tensor | None, guidance: float,
           null_label: int | None) -> Tensor:
    """Classifier-free guidance over one or several conditions (Ho & Salimans 2022, eq. 6).

    out = g(x, null) + w * sum_j [g(x, y_j) - g(x, null)]. ``labels``: None (unconditional),
    (B,) one condition, or (B, J) J conditions composed as a product of experts
    (compositional generation, Zhu et al. 2024, experiments; section number unverified:
    energies of the conditions add).
    w = 0 is the unconditional model, w = 1 the conditional one; the official ``main_cond.py``
    writes (1 + w') g(y) - w' g(null), i.e. w = 1 + w'. Works for energies and initializers.
    """
    if labels is None:
        return net(x, logsnr, None)
    require("labels", "given", null_label is not None,
            "labels need a class-conditional model (num_classes > 0); this model is unconditional")
    labels = labels.view(x.shape[0], -1)
    null = torch.full_like(labels[:, 0], null_label)
    base = net(x, logsnr, null)
    if guidance == 0.0:
        return base
    out = base
    for j in range(labels.shape[1]):
        out = out + guidance * (net(x, logsnr, labels[:, j]) - base)
    return out


def revise(
    net: Callable[[Tensor], Tensor],
    x0: Tensor,
    x_t: Tensor,
    coef: LevelCoefficients,
    step_coeff: float,
    langevin: LangevinSchedule,
    *,
    known: Tensor | None = None,
    mask: Tensor | None = None,
    generator: torch.Generator | None = None,
    callback: Callable[[dict], None] | None = None,
) -> Tensor:
    """K = ``langevin.n_steps`` Langevin steps on p(x~ | x_t) at each example's level; returns
    x~_K (B, ...).

    Args:
        net: x~ -> g(x~) (B,), the network output at each example's level (logSNR_{t-1}).
        x0: (B, ...) start (initializer proposal for CDRL, x_t for DRL).
        x_t: (B, ...) the noisier sample the tether pulls towards (ignored at the final level).
        coef: ``NoiseSchedule.coefficients(t)``.
        step_coeff: the schedule's step coefficient (s_t^2 = 2 step_coeff c_t sigma_t^2).
        langevin: the chain's settings in y = x~ / s_t: ``n_steps`` K >= 1, ``step_size`` 1 for
            the paper's s_t (it multiplies s_t), ``noise_scale`` multiplies the noise s_t eps
            (1 samples p(x~ | x_t); 0 is gradient ascent), ``method``, ``clip_grad``.
        known, mask: inpainting; coordinates with mask 1 are held at ``known`` (in x~ space):
            the energy sees mask * known + (1 - mask) * x~, so they never move.
        generator: the chain's noise (one Philox seed drawn from it); callback: the core
            ``langevin``'s per-step callback (e.g. ``Diagnostics``, in y).
    """
    require("langevin", langevin, isinstance(langevin, LangevinSchedule), "it must be a LangevinSchedule")
    check_int("n_steps", langevin.n_steps, low=1)
    s = batch_view(coef.step_sq.sqrt(), x0)  # (B, 1, ...)
    tether = batch_view(step_coeff * coef.c * (1.0 - coef.final), x0)
    inv_s2 = 1.0 / coef.step_sq.to(x0.dtype)

    def compose(x: Tensor) -> Tensor:
        return x if mask is None else torch.lerp(x, known, mask)

    def energy(y: Tensor) -> Tensor:  # E(y) = -L(s y) = -(g - step_coeff c ||x~ - x_t||^2) / s^2
        x = compose(s * y)
        quad = (tether * (x - x_t).square()).flatten(1).sum(1)
        return -(net(x) - quad) * inv_s2

    y = langevin_from_schedule(energy, x0 / s, langevin, generator=generator, callback=callback)
    return compose(s * y)


def tweedie_denoise(net: Callable[[Tensor], Tensor], x_tilde: Tensor, coef: LevelCoefficients,
                    alpha_0: float) -> Tensor:
    """Final denoising step (Zhu et al. 2024, App. A.2 per the official ``gen_samples`` comment;
    equation number unverified; Tweedie's formula, Efron 2011).

    The last level returns x~ = m_1 z, z the slightly noisy sample at logSNR_max
    (z = sqrt(alpha_0) x + sqrt(1 - alpha_0) eps). With log p(z) = g(m_1 z) / s_1^2 + const,
    E[x | z] = (z + (1 - alpha_0) grad_z log p(z)) / sqrt(alpha_0). (The official ``gen_samples``
    divides g by s_1^2 / 2, which doubles the score; we use the exact formula.)
    """
    m = batch_view(coef.scale, x_tilde)
    z = (x_tilde / m).detach()
    with torch.inference_mode(False), torch.enable_grad():
        zr = z.clone().requires_grad_(True)
        logp = net(zr * m) / coef.step_sq.to(z.dtype)
        (score,) = torch.autograd.grad(logp.sum(), zr)
    return ((z + (1.0 - alpha_0) * score) / alpha_0**0.5).detach()


def sample_levels(
    schedule: NoiseSchedule,
    energy_net: Net,
    initializer: Net | None,
    x_n: Tensor,
    langevin: LangevinSchedule,
    *,
    labels: Tensor | None = None,
    guidance: float = 1.0,
    null_label: int | None = None,
    known: Tensor | None = None,
    mask: Tensor | None = None,
    use_langevin: bool = True,
    denoise: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Ancestral sampling through the levels n..1 (official ``gen_samples``; the paper's
    sampling algorithm, number unverified).

    At each level: proposal x~_0 = U(x_t) + sqrt(beta_tilde_t m_t^2) eps (CDRL) or x~_0 = x_t
    (DRL, ``initializer=None``), then K Langevin steps, then x_{t-1} = x~ / m_t; finally one
    Tweedie step. ``langevin``: the chain's settings at every level (see :func:`revise`;
    ``n_steps`` is K). ``use_langevin=False`` gives the initializer alone (no EBM anywhere).
    ``known``/``mask`` (data space, mask 1 = known pixel) inpaint: known pixels follow the
    forward-noised known image at every level (one fixed eps) and are exact at the end.
    """
    require("use_langevin", use_langevin, use_langevin or initializer is not None,
            "use_langevin=False needs an initializer (DRL has none)")
    b, dev = x_n.shape[0], x_n.device
    eps_known = None
    if mask is not None:
        eps_known = torch.randn(x_n.shape, generator=generator, device=dev)
        a_n = torch.sigmoid(schedule.levels()[-1]).item()
        x_n = torch.lerp(x_n, a_n**0.5 * known + (1 - a_n) ** 0.5 * eps_known, mask)
    x = x_n
    coef = None
    for level in range(schedule.n_levels, 0, -1):
        t = torch.full((b,), level, dtype=torch.long, device=dev)
        coef = schedule.coefficients(t)
        coef = LevelCoefficients(*(v.to(dev) for v in coef.__dict__.values()))
        ls_t, ls_s = coef.logsnr_t, coef.logsnr_s
        if initializer is not None:
            with torch.no_grad():
                prop = guided(initializer, x, ls_t, labels, guidance, null_label)
            noise = torch.randn(x.shape, generator=generator, device=dev)
            prop = prop + batch_view((coef.beta_tilde * coef.scale**2).sqrt(), x) * noise
        else:
            prop = x
        known_t = None
        if mask is not None:
            known_t = batch_view(coef.scale, x) * (
                batch_view(coef.alpha_s.sqrt(), x) * known + batch_view((1 - coef.alpha_s).sqrt(), x) * eps_known
            )
            prop = torch.lerp(prop, known_t, mask)
        if use_langevin:
            def net(v: Tensor, ls_s: Tensor = ls_s) -> Tensor:
                return guided(energy_net, v, ls_s, labels, guidance, null_label)

            prop = revise(net, prop, x, coef, schedule.step_coeff, langevin, known=known_t,
                          mask=mask, generator=generator)
        x = prop / batch_view(coef.scale, prop)
    if use_langevin and denoise and coef is not None:
        def net1(v: Tensor) -> Tensor:
            return guided(energy_net, v, coef.logsnr_s, labels, guidance, null_label)

        x = tweedie_denoise(net1, x * batch_view(coef.scale, x), coef, schedule.alpha_0)
    if mask is not None:
        x = torch.lerp(x, known, mask)
    return x
