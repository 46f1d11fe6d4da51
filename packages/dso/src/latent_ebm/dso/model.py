"""DSO's model: the Latent Prompt Transformer of ``latent-ebm-lpt-mol`` (unchanged: DSO refits
the whole LPT by MCMC-based MLE, arXiv 2402.17179v1) with one property head per objective and a
weighted design energy for multi-objective design:

    E(z0; y*) = |z0|^2 / 2 + sum_p w_p (precision / 2) (t_p(y*_p) - MLP_p(U(z0)))^2

(``objective_weights`` = (w_p); all ones is LPT's summed MSE, the released code's multi-property
Langevin). The weights enter ``property_energy``, i.e. both the design-time Langevin on
p(z0 | y*) and the posterior p(z0 | x, y) of the refit: w_p acts as a per-objective precision of
p_gamma(y_p | z). The regression loss of the refit (``generator_loss``) stays unweighted.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from latent_ebm.core.checks import not_allowed
from latent_ebm.lpt_mol import LPTMolModule
from latent_ebm.lpt_mol.model import to_target

__all__ = ["DSOModule", "check_weights"]


def check_weights(weights: Sequence[float] | None, properties: Sequence[str],
                  name: str = "objective_weights") -> tuple[float, ...] | None:
    """One finite weight >= 0 per property, not all 0 (one-line error otherwise); None passes."""
    if weights is None:
        return None
    try:
        ok = isinstance(weights, Sequence) and not isinstance(weights, str)
        w = [float(v) for v in weights] if ok and not any(isinstance(v, bool) for v in weights) else None
    except (TypeError, ValueError):
        w = None
    if (w is None or len(w) != len(properties) or any(not v >= 0.0 or v == float("inf") for v in w)
            or not any(v > 0 for v in w)):
        raise not_allowed(name, weights, f"give one finite weight >= 0 per property {list(properties)}, not all 0")
    return tuple(w)


class DSOModule(LPTMolModule):
    """LPT for the dual-space loop. Args: those of :class:`LPTMolModule`, plus
    ``objective_weights`` (one weight >= 0 per entry of ``properties``, not all 0; None = all 1)."""

    def __init__(self, *, objective_weights: Sequence[float] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        props = tuple(self.hparams.properties)
        objective_weights = check_weights(objective_weights, props)
        self.save_hyperparameters({"objective_weights": objective_weights})
        weights = torch.ones(len(props)) if objective_weights is None else torch.tensor(objective_weights)
        self.register_buffer("objective_weight", weights.float(), persistent=False)

    def property_energy(self, z: Tensor, y: Tensor) -> Tensor:
        """Weighted -log p_gamma(y | z) up to a constant, (B,): sum_p w_p (precision/2)(t_p - MLP_p(z))^2."""
        t = to_target(y, self.hparams.properties)
        sq = (t - self.prop(z)) ** 2
        return 0.5 * self.hparams.prop_precision * (sq * self.objective_weight.to(sq)).sum(1)
