"""The joint latent prior of NeRF-LEBM: u = [u_shape, u_app, u_pose], p(u) = p(u_shape) p(u_app) p(u_pose).

    z_shape ~ p_alpha_s(z) ∝ exp(-E_s(z)) N(0, I)     the core's ``EnergyPrior`` (``SceneEnergyPrior``)
    z_app   ~ p_alpha_a(z) ∝ exp(-E_a(z)) N(0, I)     a second ``EnergyPrior``
    pose (unknown-pose mode): u_pose ~ N(0, I_3), azimuth = atan2(u_1, u_0), elevation =
        lo + (hi - lo) Phi(u_2): the push-forward of N(0, I) is exactly uniform on both angles, so
        Langevin in u-space samples the uniform pose prior (azimuth without a seam).
``SceneGaussianPrior`` is the N(0, I) baseline (no ``contrastive_loss``, so the core's base skips
prior sampling). ``transform`` returns z = [z_shape, z_app, azimuth, elevation] (pose columns only
in the unknown-pose mode).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from latent_ebm.core.priors import EnergyPrior, GaussianPrior
from latent_ebm.core.samplers import LangevinSchedule

__all__ = ["SceneEnergyPrior", "SceneGaussianPrior"]

POSE_DIM = 3


class SceneGaussianPrior(GaussianPrior):
    """N(0, I) over u = [u_shape (ds), u_app (da), u_pose (3 if pose else 0)]."""

    def __init__(self, shape_dim: int, app_dim: int, *, pose: bool = False,
                 elevation_deg: tuple[float, float] = (10.0, 60.0)) -> None:
        super().__init__(shape_dim + app_dim + (POSE_DIM if pose else 0))
        self.shape_dim, self.app_dim, self.pose = shape_dim, app_dim, pose
        self.elevation = tuple(math.radians(a) for a in elevation_deg)

    def split(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """(u_shape, u_app, u_pose or None)."""
        ds, da = self.shape_dim, self.app_dim
        return u[:, :ds], u[:, ds:ds + da], (u[:, ds + da:] if self.pose else None)

    def pose_angles(self, u_pose: Tensor) -> Tensor:
        """(azimuth, elevation) (B, 2) in radians from u_pose (B, 3)."""
        lo, hi = self.elevation
        az = torch.atan2(u_pose[:, 1], u_pose[:, 0])
        el = lo + (hi - lo) * 0.5 * (1 + torch.erf(u_pose[:, 2] / math.sqrt(2)))
        return torch.stack([az, el], -1)

    def transform(self, u: Tensor) -> Tensor:
        """z = [z_shape, z_app(, azimuth, elevation)]: (B, ds + da (+ 2))."""
        u = self.check(u)
        s, a, p = self.split(u)
        return torch.cat([s, a] + ([self.pose_angles(p)] if p is not None else []), -1)


class SceneEnergyPrior(SceneGaussianPrior):
    """Two independent latent EBMs, E(u) = E_s(u_shape) + E_a(u_app) (+ |u_pose|²/2).

    Args: shape_dim, app_dim, hidden_shape, hidden_app (the two energy MLPs), pose, elevation_deg,
        reference (keep the N(0, I) factor of each EBM; False follows the official MCMC code,
        whose energies have no Gaussian term), schedule (prior Langevin).
    """

    def __init__(self, shape_dim: int, app_dim: int, *, hidden_shape: int = 64, hidden_app: int = 64,
                 pose: bool = False, elevation_deg: tuple[float, float] = (10.0, 60.0), reference: bool = True,
                 schedule: LangevinSchedule | None = None) -> None:
        super().__init__(shape_dim, app_dim, pose=pose, elevation_deg=elevation_deg)
        kw = {} if schedule is None else {"schedule": schedule}
        self.shape_prior = EnergyPrior(shape_dim, hidden=hidden_shape, **kw)
        self.app_prior = EnergyPrior(app_dim, hidden=hidden_app, **kw)
        self.schedule = self.shape_prior.schedule
        self.reference = reference

    def _part_energy(self, prior: EnergyPrior, u: Tensor) -> Tensor:
        return prior.energy(u) if self.reference else -prior.log_potential(u)

    def energy(self, u: Tensor) -> Tensor:
        s, a, p = self.split(self.check(u))
        e = self._part_energy(self.shape_prior, s) + self._part_energy(self.app_prior, a)
        return e if p is None else e + 0.5 * p.square().sum(-1)

    def contrastive_loss(self, u_post: Tensor, u_prior: Tensor) -> Tensor:
        """The sum of both EBMs' LEBM losses f(u_prior) - f(u_post) (each on its own latent)."""
        sp, ap, _ = self.split(self.check(u_post, "u_post"))
        sq, aq, _ = self.split(self.check(u_prior, "u_prior"))
        return self.shape_prior.contrastive_loss(sp, sq) + self.app_prior.contrastive_loss(ap, aq)
