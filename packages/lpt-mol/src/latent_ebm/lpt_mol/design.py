"""Design with a trained LPT: z0 ~ p(z0 | y*) by Langevin, then autoregressive decoding.

p(z0 | y*) ∝ N(z0; 0, I) p_gamma(y* | U(z0)) (the paper's property-conditioned posterior; LPT
code ``infer_z_given_y``; noise factor 0.5), decoded with top-k sampling and the decoder's KV
cache (x ~ p_beta(x | U(z0)), token by token); an optional SELFIES prefix constrains the
substructure (the paper's structure-constrained design). Equation numbers of the paper could not
be read (README, "The paper's equations").
"""
from __future__ import annotations

from collections.abc import Sequence

import selfies as sf
import torch
from torch import Tensor

from latent_ebm.core.checks import not_allowed
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from .data import SelfiesVocab
from .model import LPTMolModule

__all__ = ["decode", "design", "sample_latents_given_y"]

DESIGN_SCHEDULE = LangevinSchedule(n_steps=30, step_size=0.3, noise_scale=0.5)


def sample_latents_given_y(model: LPTMolModule, y: Tensor, *, schedule: LangevinSchedule = DESIGN_SCHEDULE,
                           u0: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
    """u = z0 ~ p(z0 | y) for raw targets y (B, P) by Langevin (``schedule``) on
    |z0|²/2 - log p_gamma(y | U(z0)); warm start from u0 if given, else N(0, I). (B, N, d)."""
    model.eval()
    if u0 is None:
        u0 = torch.randn((y.shape[0], *model.latent_shape), generator=generator)

    def energy(u: Tensor) -> Tensor:
        return model.prior.energy(u) + model.property_energy(model.prior.transform(u), y)

    return langevin_from_schedule(energy, u0, schedule, generator=generator)


@torch.no_grad()
def decode(model: LPTMolModule, u: Tensor, vocab: SelfiesVocab, *, top_k: int | None = 50,
           temperature: float = 1.0, prefix: str | None = None, generator: torch.Generator | None = None) -> list[str]:
    """SMILES from latents u (B, N, d); ``prefix`` is a SELFIES string every molecule starts with."""
    model.eval()
    z = model.latent_proj(model.prior.transform(u))
    head = [vocab.bos] + ([vocab.stoi[t] for t in sf.split_selfies(prefix)] if prefix else [])
    prompt = torch.tensor(head, device=u.device).expand(u.shape[0], -1)
    n_new = model.hparams.max_len + 1 - prompt.shape[1]
    out = model.decoder.generate(prompt, z, n_new, temperature=temperature, top_k=top_k,
                                 generator=generator, eos_id=vocab.eos)
    return [vocab.decode(row) for row in out.tolist()]


def design(model: LPTMolModule, vocab: SelfiesVocab, target: Sequence[float] | Tensor, n: int, *,
           schedule: LangevinSchedule = DESIGN_SCHEDULE, top_k: int | None = 50, temperature: float = 1.0,
           prefix: str | None = None, u0: Tensor | None = None, generator: torch.Generator | None = None
           ) -> tuple[list[str], Tensor]:
    """n molecules conditioned on raw property target(s) (P,) or (n, P); returns (smiles, z0).

    Decoding is top-k sampling at ``temperature`` (the LPT code: top-k 50, temperature 1)."""
    y = torch.as_tensor(target, dtype=torch.float32)
    if y.ndim == 1:
        y = y.expand(n, -1)
    if y.shape != (n, len(model.hparams.properties)):
        n_props = len(model.hparams.properties)
        raise not_allowed("target.shape", tuple(y.shape), f"it must be ({n_props},) or (n, P) = ({n}, {n_props})")
    u = sample_latents_given_y(model, y, schedule=schedule, u0=u0, generator=generator)
    return decode(model, u, vocab, top_k=top_k, temperature=temperature, prefix=prefix, generator=generator), u
