"""Grouped settings the base modules own, one level deep, each validated on construction.

A package constructor takes its own model settings plus these groups whole, e.g.
``optim: OptimConfig = OptimConfig(lr=4e-4, betas=(0.9, 0.95))``. LightningCLI (jsonargparse)
fills a partial YAML group from the constructor's default: ``optim: {lr: 1e-3}`` keeps that
default's betas. Checkpoint hyperparameters hold the groups as plain dicts (``weights_only``
loading), and :func:`as_config` turns a dict back into its group.

The settings are checked where they are written, so a message names the group's field as the
user wrote it: ``optim.lr=-1.0 is not allowed; it must be a finite number > 0``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from typing import Any, Literal, TypeVar

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed

__all__ = ["ChainConfig", "FastLoop", "OptimConfig", "as_config", "config_dict"]

G = TypeVar("G")

Algorithm = Literal["adam", "adamw", "sgd"]
Schedule = Literal["constant", "cosine"]
Decay = Literal["matrices", "all"]


def _betas(prefix: str, betas: Any) -> tuple[float, float]:
    ok = isinstance(betas, list | tuple) and len(betas) == 2
    if not ok:
        raise not_allowed(f"{prefix}.betas", betas, "it must be a pair of numbers in [0, 1)")
    for b in betas:
        check_real(f"{prefix}.betas", b, low=0.0, high=1.0, high_open=True)
    return (float(betas[0]), float(betas[1]))


@dataclass(frozen=True)
class OptimConfig:
    """One optimiser, its learning-rate schedule and its gradient clipping.

    Attributes:
        lr: peak learning rate.
        algorithm: ``adam`` (L2 weight decay in the gradient, torch's Adam), ``adamw``
            (decoupled decay) or ``sgd``.
        betas, eps: Adam's moment decays and denominator term.
        weight_decay: decay strength; ``decay`` says which parameters get it: ``matrices``
            (tensors of >= 2 dims: weights, not biases or norms; nanoGPT's grouping) or ``all``.
        warmup_steps: linear warm-up, lr * (step + 1) / (warmup_steps + 1) for step < warmup_steps.
        hold_steps: steps at the peak rate after warm-up before the cosine starts (the LPT code:
            warm-up 600, peak until 2000, cosine to 9000).
        schedule: after warm-up (and hold), ``constant`` or ``cosine`` decay to lr * min_lr_ratio
            at ``max_steps``.
        max_steps: length of the cosine; None follows the Trainer's (``max_steps``, else the
            estimated steps of ``max_epochs``).
        grad_clip: max global gradient norm of this optimiser's parameters (None: no clipping).
    """

    lr: float = 1e-3
    algorithm: Algorithm = "adamw"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    decay: Decay = "matrices"
    warmup_steps: int = 0
    hold_steps: int = 0
    schedule: Schedule = "constant"
    max_steps: int | None = None
    min_lr_ratio: float = 0.1
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        p = "optim"
        check_real(f"{p}.lr", self.lr, low=0.0, low_open=True)
        check_choice(f"{p}.algorithm", self.algorithm, ("adam", "adamw", "sgd"))
        object.__setattr__(self, "betas", _betas(p, self.betas))
        check_real(f"{p}.eps", self.eps, low=0.0, low_open=True)
        check_real(f"{p}.weight_decay", self.weight_decay, low=0.0)
        check_choice(f"{p}.decay", self.decay, ("matrices", "all"))
        check_int(f"{p}.warmup_steps", self.warmup_steps, low=0)
        check_int(f"{p}.hold_steps", self.hold_steps, low=0)
        check_choice(f"{p}.schedule", self.schedule, ("constant", "cosine"))
        check_int(f"{p}.max_steps", self.max_steps, low=1, allow_none=True)
        check_real(f"{p}.min_lr_ratio", self.min_lr_ratio, low=0.0, high=1.0)
        check_real(f"{p}.grad_clip", self.grad_clip, low=0.0, low_open=True, allow_none=True)


@dataclass(frozen=True)
class FastLoop:
    """The fast loop of dual-rate VB (LTM's inner loop): T_fast AdamW steps on (mu, log sigma²).

    Attributes:
        steps, eval_steps: T_fast in training (>= 1) and at validation/test/predict (None:
            ``steps``; 0 allowed there: the inference-time compute curve starts at 0).
        lr, final_ratio: eta_fast and the cosine's end as a fraction of it (LTM: 0.34, 0.1).
        betas, weight_decay: the inner AdamW's (first-party: torch defaults, decay 0.01).
        init_mu_std, init_logvar, init_logvar_std: mu ~ N(0, std²), logvar = init + std N(0, 1).
        accumulate_grads: also sum the decoder gradients of every inner step into the slow step,
            as the first-party code does (its decoder is not frozen in the loop).
        eval_mode: run the loop with the module in eval mode (no dropout).
    """

    steps: int = 16
    eval_steps: int | None = None
    lr: float = 0.3
    final_ratio: float = 0.1
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.01
    init_mu_std: float = 0.01
    init_logvar: float = -5.0
    init_logvar_std: float = 0.1
    accumulate_grads: bool = False
    eval_mode: bool = True

    def __post_init__(self) -> None:
        p = "fast"
        check_int(f"{p}.steps", self.steps, low=1)  # training with no fast step fits nothing
        check_int(f"{p}.eval_steps", self.eval_steps, low=0, allow_none=True)
        check_real(f"{p}.lr", self.lr, low=0.0, low_open=True)
        check_real(f"{p}.final_ratio", self.final_ratio, low=0.0, high=1.0)
        object.__setattr__(self, "betas", _betas(p, self.betas))
        check_real(f"{p}.weight_decay", self.weight_decay, low=0.0)
        check_real(f"{p}.init_mu_std", self.init_mu_std, low=0.0)
        check_real(f"{p}.init_logvar", self.init_logvar)
        check_real(f"{p}.init_logvar_std", self.init_logvar_std, low=0.0)

    @property
    def eval_steps_or_steps(self) -> int:
        return self.steps if self.eval_steps is None else self.eval_steps


@dataclass(frozen=True)
class ChainConfig:
    """Persistent posterior chains: warm-start each training example's posterior Langevin
    where its chain stopped on the example's last visit (not in LEBM; LPT-RL and DSO use it).

    Attributes:
        persistent: keep one chain per training example (batches must carry example indices).
        n_examples: the training set size (persistent chains only).
    """

    persistent: bool = False
    n_examples: int = 0

    def __post_init__(self) -> None:
        if self.persistent:
            check_int("chains.n_examples", self.n_examples, low=1)
        else:
            check_int("chains.n_examples", self.n_examples, low=0)


def as_config(cls: type[G], value: G | Mapping[str, Any] | None, name: str, *, allow_none: bool = False,
              default: G | None = None) -> G | None:
    """``value`` as a ``cls`` group: itself, a dict of fields overriding ``default`` (default
    ``cls()``; from Python as from YAML, a partial dict keeps the other fields of the
    constructor's default), or None where allowed. Errors name the argument ``name``."""
    if value is None:
        if allow_none:
            return None
        raise not_allowed(name, value, f"give a {cls.__name__} or a dict of its fields")
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise not_allowed(name, dict(value), f"unknown field(s) {unknown}; {cls.__name__} has {sorted(known)}")
        base = default if isinstance(default, cls) else None
        try:
            return replace(base, **value) if base is not None else cls(**value)
        except ValueError as err:  # the group's own check: rename its prefix to this argument
            raise ValueError(_renamed(str(err), cls, name)) from None
    raise not_allowed(name, value, f"give a {cls.__name__}, a dict of its fields{' or None' if allow_none else ''}")


_PREFIX = {OptimConfig: "optim", FastLoop: "fast", ChainConfig: "chains"}


def _renamed(message: str, cls: type, name: str) -> str:
    """A group's error message with its field named as the argument ``name`` holds it:
    ``optim.lr=...`` -> ``prior_optim.lr=...``; ``n_steps=...`` -> ``posterior.n_steps=...``."""
    prefix = _PREFIX.get(cls)
    for f in fields(cls):
        if prefix and message.startswith(f"{prefix}.{f.name}="):
            return f"{name}.{message[len(prefix) + 1:]}"
        if message.startswith(f"{f.name}="):
            return f"{name}.{message}"
    return message


def config_dict(value: Any) -> Any:
    """A dataclass group as a plain dict (tuples kept), anything else unchanged."""
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value
