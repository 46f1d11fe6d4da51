"""The networks: latent-conditioned radiance fields, the scene generator that renders them, and the
VI encoder (the core's ``EnergyPrior`` holds the prior's energy networks).

Two radiance fields, as in the official NeRF-LEBM code (AlvinZhuyx/NeRF-LEBM, read, not copied):
    ``ConditionalNeRF``  GRAF-style: PE(x) ++ map_s(z_shape) -> ReLU MLP with a skip -> density,
                         feature ++ PE(d) ++ map_a(z_app) -> RGB = (tanh + 1) / 2
    ``FiLMSiren``        pi-GAN-style: SIREN layers on raw xyz with FiLM (frequency, phase) from
                         map_s(z_shape); colour by one FiLM-SIREN layer modulated by map_a(z_app)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.checks import check_int

from .render import composite, rays_from_pixels, sample_pdf, stratified_depths

__all__ = ["ConditionalNeRF", "Encoder", "FiLMSiren", "MappingNet", "PositionalEncoding", "SceneGenerator"]


class PositionalEncoding(nn.Module):
    """gamma(p) = (p, sin(2^k p), cos(2^k p))_{k < n_freq}: (..., 3) -> (..., 3 + 6 n_freq) (NeRF eq. 4)."""

    def __init__(self, n_freq: int) -> None:
        super().__init__()
        check_int("n_freq", n_freq, low=0)
        self.register_buffer("freqs", 2.0 ** torch.arange(n_freq, dtype=torch.float32), persistent=False)
        self.out_dim = 3 + 6 * n_freq

    def forward(self, p: Tensor) -> Tensor:
        x = p[..., None, :] * self.freqs[:, None]  # (..., F, 3)
        return torch.cat([p, x.sin().flatten(-2), x.cos().flatten(-2)], -1)


class MappingNet(nn.Module):
    """z (B, d) -> code (B, out): optional projection onto a sphere (r z / |z|, the official code's
    radius 30), then Linear + LeakyReLU(0.2) layers (LeakyReLU after the last layer too, as coded)."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: int, layers: int = 2,
                 sphere_radius: float | None = None) -> None:
        super().__init__()
        dims = [latent_dim, *[hidden] * (layers - 1), out_dim]
        blocks: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            blocks += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*blocks)
        self.sphere_radius = sphere_radius

    def forward(self, z: Tensor) -> Tensor:
        if self.sphere_radius is not None:
            z = self.sphere_radius * z / z.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return self.net(z)


class ConditionalNeRF(nn.Module):
    """GRAF-style conditional NeRF: (points (B, N, 3), dirs (B, N, 3), codes (B, c_s), (B, c_a))
    -> (sigma (B, N), rgb (B, N, 3)); softplus density, (tanh + 1) / 2 colour."""

    def __init__(self, code_dim: int, *, width: int = 64, depth: int = 4, pe_x: int = 6, pe_d: int = 2) -> None:
        super().__init__()
        for name, value in (("width", width), ("depth", depth)):
            check_int(name, value, low=1)
        self.pe_x, self.pe_d = PositionalEncoding(pe_x), PositionalEncoding(pe_d)
        d_in = self.pe_x.out_dim + code_dim
        self.skip = depth // 2 if depth > 2 else None
        self.layers = nn.ModuleList(
            nn.Linear(d_in if i == 0 else width + (d_in if i == self.skip else 0), width) for i in range(depth))
        self.sigma_head = nn.Linear(width, 1)
        self.feature = nn.Linear(width, width)
        self.view = nn.Linear(width + self.pe_d.out_dim + code_dim, width // 2)
        self.rgb_head = nn.Linear(width // 2, 3)

    def forward(self, x: Tensor, d: Tensor, code_s: Tensor, code_a: Tensor) -> tuple[Tensor, Tensor]:
        n = x.shape[1]
        h0 = torch.cat([self.pe_x(x), code_s[:, None].expand(-1, n, -1)], -1)
        h = h0
        for i, layer in enumerate(self.layers):
            if i == self.skip:
                h = torch.cat([h, h0], -1)
            h = F.relu(layer(h))
        sigma = F.softplus(self.sigma_head(h)).squeeze(-1)
        v = torch.cat([self.feature(h), self.pe_d(F.normalize(d, dim=-1)), code_a[:, None].expand(-1, n, -1)], -1)
        rgb = (torch.tanh(self.rgb_head(F.relu(self.view(v)))) + 1) / 2
        return sigma, rgb


class _FiLM(nn.Module):
    """sin(freq * (W x) + phase), SIREN's initialisation (pi-GAN's FiLMLayer)."""

    def __init__(self, d_in: int, d_out: int, first: bool = False) -> None:
        super().__init__()
        self.lin = nn.Linear(d_in, d_out)
        bound = 1.0 / d_in if first else math.sqrt(6.0 / d_in) / 25.0
        nn.init.uniform_(self.lin.weight, -bound, bound)

    def forward(self, x: Tensor, freq: Tensor, phase: Tensor) -> Tensor:
        return torch.sin(freq[:, None] * self.lin(x) + phase[:, None])


class FiLMSiren(nn.Module):
    """pi-GAN-style field on raw xyz: ``depth`` FiLM-SIREN layers modulated by the shape code, a
    linear density head, colour by one FiLM-SIREN layer on [dir, feature] modulated by the
    appearance code, then linear + sigmoid. Codes carry (frequency, phase) per layer:
    code_s (B, 2 * depth * width), code_a (B, 2 * width); frequencies are 15 f + 30 (pi-GAN)."""

    def __init__(self, *, width: int = 64, depth: int = 3) -> None:
        super().__init__()
        self.width, self.depth = width, depth
        self.layers = nn.ModuleList(_FiLM(3 if i == 0 else width, width, first=i == 0) for i in range(depth))
        self.sigma_head = nn.Linear(width, 1)
        self.colour = _FiLM(width + 3, width)
        self.rgb_head = nn.Linear(width, 3)

    @property
    def shape_code_dim(self) -> int:
        return 2 * self.depth * self.width

    @property
    def app_code_dim(self) -> int:
        return 2 * self.width

    def forward(self, x: Tensor, d: Tensor, code_s: Tensor, code_a: Tensor) -> tuple[Tensor, Tensor]:
        freq, phase = code_s.chunk(2, -1)
        freq = freq * 15 + 30
        h = x
        for i, layer in enumerate(self.layers):
            sl = slice(i * self.width, (i + 1) * self.width)
            h = layer(h, freq[:, sl], phase[:, sl])
        sigma = F.softplus(self.sigma_head(h)).squeeze(-1)
        fa, pa = code_a.chunk(2, -1)
        c = self.colour(torch.cat([F.normalize(d, dim=-1), h], -1), fa * 15 + 30, pa)
        return sigma, torch.sigmoid(self.rgb_head(c))


class SceneGenerator(nn.Module):
    """g_beta: (z_shape, z_app, camera pose, pixels) -> rendered colours: the two mapping nets, the
    radiance field and the volume renderer.

    Args: shape_dim, app_dim (latents), field (``nerf`` | ``siren``), width, depth, pe_x, pe_d,
        map_hidden (mapping width), sphere_radius (None: no projection), near, far, n_samples,
        n_importance (hierarchical samples on the same field; 0: off), background (grey level).
    """

    def __init__(self, shape_dim: int, app_dim: int, *, field: str = "nerf", width: int = 64, depth: int = 4,
                 pe_x: int = 6, pe_d: int = 2, map_hidden: int = 64, sphere_radius: float | None = None,
                 near: float = 7.5, far: float = 12.5, n_samples: int = 16, n_importance: int = 0,
                 background: float = 0.0) -> None:
        super().__init__()
        if field == "nerf":
            self.field = ConditionalNeRF(map_hidden, width=width, depth=depth, pe_x=pe_x, pe_d=pe_d)
            out_s = out_a = map_hidden
        else:
            self.field = FiLMSiren(width=width, depth=depth)
            out_s, out_a = self.field.shape_code_dim, self.field.app_code_dim
        self.map_s = MappingNet(shape_dim, out_s, map_hidden, sphere_radius=sphere_radius)
        self.map_a = MappingNet(app_dim, out_a, map_hidden, sphere_radius=sphere_radius)
        if field == "siren":  # FiLM codes must not be forced >= 0 by a final LeakyReLU
            self.map_s.net[-1] = nn.Identity()
            self.map_a.net[-1] = nn.Identity()
        self.near, self.far, self.n_samples, self.n_importance = near, far, n_samples, n_importance
        self.background = background

    def render_rays(self, z_s: Tensor, z_a: Tensor, o: Tensor, d: Tensor, *, perturb: bool = False,
                    generator: torch.Generator | None = None) -> Tensor:
        """Colours (B, R, 3) of rays o, d (B, R, 3) through the scenes of z_s (B, ds), z_a (B, da)."""
        code_s, code_a = self.map_s(z_s), self.map_a(z_a)
        b, r, _ = o.shape
        t = stratified_depths((b, r), self.n_samples, self.near, self.far, perturb=perturb, generator=generator,
                              device=o.device, dtype=o.dtype)
        out = self._shade(code_s, code_a, o, d, t)
        if self.n_importance > 0:
            mids = 0.5 * (t[..., 1:] + t[..., :-1])
            t_fine = sample_pdf(mids, out["weights"][..., 1:-1], self.n_importance, perturb=perturb, generator=generator)
            t = torch.sort(torch.cat([t, t_fine], -1), -1).values
            out = self._shade(code_s, code_a, o, d, t)
        return out["rgb"]

    def _shade(self, code_s: Tensor, code_a: Tensor, o: Tensor, d: Tensor, t: Tensor) -> dict[str, Tensor]:
        b, r, s = t.shape
        pts = o[:, :, None] + t[..., None] * d[:, :, None]  # (B, R, S, 3)
        dirs = d[:, :, None].expand_as(pts)
        sigma, rgb = self.field(pts.reshape(b, r * s, 3), dirs.reshape(b, r * s, 3), code_s, code_a)
        return composite(sigma.reshape(b, r, s), rgb.reshape(b, r, s, 3), t, d, self.background)

    def render(self, z_s: Tensor, z_a: Tensor, c2w: Tensor, pix: Tensor, focal: float, size: int, **kw) -> Tensor:
        """Colours (B, R, 3) at pixels ``pix`` (B, R, 2) or (R, 2) of OpenGL cameras c2w (B, 4, 4)."""
        o, d = rays_from_pixels(c2w, pix, focal, size, size)
        return self.render_rays(z_s, z_a, o, d, **kw)


class Encoder(nn.Module):
    """q(z | x) for the VI variant: a small conv net on (B, 3, H, W) in [0, 1] -> (mean, log-variance)
    of [z_shape, z_app], (B, ds + da) each (the official code uses a ResNet-34; too heavy here)."""

    def __init__(self, latent_dim: int, size: int, width: int = 32) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.SiLU(),
            nn.Conv2d(2 * width, 2 * width, 3, 1, 1), nn.SiLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        )
        self.head = nn.Linear(8 * width, 2 * latent_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.head(self.conv(2 * x - 1)).chunk(2, -1)
        return mean, logvar
