"""Gradual distribution shifting (arXiv 2310.03253, Sec. 3; the online loop of the released
LPT / DSO code, arXiv 2402.17179): from the latent of each good pool molecule, sample z0 at a
shifted target (its value + shift), decode, drop designs with a ring of a size not in
``ring_sizes`` (the released loop keeps 5- and 6-rings only; a dropped design is decoded again from
its latent, up to ``resample`` times), score with the oracle, keep the best of old ∪ new with
their latents (persistent chains), refit on the pool; repeat. Every oracle call goes through
``Oracle``.

Paper terms (equation numbers could not be read, see the README): the shifted target
y + Delta y and the conditional posterior p(z0 | y + Delta y) (``design.sample_latents_given_y``,
2 warm-started steps: the released code cites the NeurIPS version's Sec. 3.5, "Computational
efficiency"), the refit by MCMC-based MLE on the pool (``LPTMolModule`` in phase ``finetune``).
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import lightning as L
import torch
from torch.utils.data import DataLoader

from latent_ebm.core.checks import check_choice, check_int, check_real, require
from latent_ebm.core.nn import check_sampling
from latent_ebm.core.samplers import LangevinSchedule, langevin_from_schedule

from .data import SelfiesVocab, TokenDataset, to_selfies
from .design import decode, design
from .filters import RELEASED_RING_SIZES, ring_sizes_ok
from .model import LPT_POSTERIOR, LPTMolModule
from .oracles import Oracle, canonical

__all__ = ["DIFFERENCES", "FIRST_PARTY_SHIFTING", "GRADUAL_SHIFTING", "SEEDINGS", "ShiftConfig", "ShiftState",
           "load_round", "pool_latents", "read_round_file", "refit", "run_shifting", "save_round", "shift_round"]

# Released LPT / DSO online loop: 2 Langevin steps of 0.3 (noise factor 0.5) from warm starts.
DSO_DESIGN = LangevinSchedule(n_steps=2, step_size=0.3, noise_scale=0.5)


@dataclass
class ShiftConfig:
    """Settings of the shifting loop (defaults: the released LPT / DSO loop where it fixes them).

    Each round starts one chain at the latent of each of the best ``per_round`` pool molecules,
    runs ``design_langevin`` toward that molecule's own value + ``shift`` and decodes.
    ``refit_steps=None`` refits for one pass over the pool (SGDS and DSO: one epoch a round).
    Designs decode with ``top_k`` sampling at ``temperature`` (released loop: top-k 50, T = 1;
    lower values trade diversity for more typical molecules). Designs with a ring whose size is
    not in ``ring_sizes`` are decoded again from the same latent, up to ``resample`` times, and
    dropped unscored if they still fail (released loop: 5- and 6-rings only); None turns the
    filter off.

    The two spaces and how the loop starts (one loop, named switches; LPT's gradual distribution
    shifting and DSO are presets of it, :data:`GRADUAL_SHIFTING` and ``latent_ebm.dso``'s ``DSO``):

    - ``seeding``: ``"pool"`` (the seed molecules form the round-0 pool, keep their places in
      it and their latents are inferred by p(z0 | x, y): this package's benchmark protocol) or
      ``"first_party"`` (the released LPT / DSO code, ``run_online_learn``: round 0 draws its
      targets, value + shift, from a random subset of the seed molecules (the test split there),
      starts its chains at N(0, I), and the pool then holds the loop's own designs only).
    - ``latent_sampling``: Langevin on p(z0 | y + shift) from the warm starts (the latent space);
      False decodes at the start latents unmoved (DSO's data-space-only ablation).
    - ``refit``: refit the whole LPT on the selected pool each round (the data space); False
      keeps the model fixed (DSO's latent-space-only ablation: the pool still gives warm starts).
    - ``prefix``: a SELFIES string every design starts with (the released
      ``cond_substructure_smiles``: a substructure forced as the generation prefix).

    Multi-objective and constrained design (DSO, arXiv 2402.17179; off by default):

    - ``objectives``: canonical SMILES -> the raw value of each of the model's properties. When
      given, the oracle's scalar only *ranks* the pool (e.g. LIMO's filtered objective, or an
      improvement under a similarity constraint), while the model's targets, in the refit and in
      the design Langevin (value + ``shift``, per property), are these vectors. None: the model
      has one property and the oracle's value is its target.
    - ``shift``: one float for every property, or one per property (e.g. QED up, SA down).
    - ``anchor_weight``: lambda of a term (lambda/2) |z0 - z0_ref|^2 added to the design energy,
      z0_ref the latent of the best seed molecule at round 0 (the start molecule of a
      similarity-constrained run, where it is the only seed; ``ShiftState.anchor``): the
      similarity term of DSO's constrained design, in latent space. 0 leaves the energy as is.
    """
    rounds: int = 5
    per_round: int = 200      # molecules designed per round
    shift: float = 0.1        # target of a chain = its start molecule's value + shift (LPT/DSO code: +0.1)
    pool_size: int = 2000     # keep the top pool_size of old ∪ new (SGDS / LPT code)
    refit_steps: int | None = None
    batch_size: int = 64
    design_langevin: LangevinSchedule = DSO_DESIGN
    infer_langevin: LangevinSchedule = LPT_POSTERIOR  # z0 ~ p(z0 | x, y) of a pool molecule with no latent yet
    top_k: int | None = 50
    temperature: float = 1.0
    ring_sizes: tuple[int, ...] | None = RELEASED_RING_SIZES
    resample: int = 4
    seeding: str = "pool"
    latent_sampling: bool = True
    refit: bool = True
    prefix: str | None = None
    objectives: Callable[[str], Sequence[float]] | None = field(default=None, compare=False)
    anchor_weight: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rounds", "per_round", "pool_size", "batch_size"):
            check_int(name, getattr(self, name), low=1)
        if isinstance(self.shift, tuple | list):
            require("shift", self.shift, len(self.shift) > 0, "give a float or one float per property")
            for v in self.shift:
                check_real("shift", v)
            self.shift = tuple(float(v) for v in self.shift)
        else:
            check_real("shift", self.shift)
        require("objectives", self.objectives, self.objectives is None or callable(self.objectives),
                "give a callable (canonical SMILES -> one raw value per property) or None")
        check_real("anchor_weight", self.anchor_weight, low=0.0)
        check_int("refit_steps", self.refit_steps, low=0, allow_none=True)
        # the vocabulary is not known here: the decoder checks top_k against it at decode time
        check_sampling(self.temperature, self.top_k, None, vocab_size=self.top_k or 1)
        rings = self.ring_sizes
        require("ring_sizes", rings, rings is None or (isinstance(rings, tuple | list) and len(rings) > 0 and all(
            isinstance(k, int) and not isinstance(k, bool) and k >= 3 for k in rings)),
            "it must be None or a non-empty tuple of ring sizes (ints >= 3)")
        check_int("resample", self.resample, low=0)
        check_choice("seeding", self.seeding, SEEDINGS)
        check_choice("latent_sampling", self.latent_sampling, (True, False))
        check_choice("refit", self.refit, (True, False))
        require("prefix", self.prefix, self.prefix is None or (isinstance(self.prefix, str) and self.prefix != ""),
                "give a non-empty SELFIES string or None")


SEEDINGS = ("pool", "first_party")

# The shifting loop as this package's benchmarks run it (bench_design.py): the best offline
# molecules seed the pool and stay in it, their latents inferred by p(z0 | x, y).
GRADUAL_SHIFTING = ShiftConfig(seeding="pool", per_round=80, pool_size=2000, shift=0.1)
# The released code's loop (``run_online_learn``, train.py, the NeurIPS version of the paper):
# 25 rounds of 2,500 unique designs, top 15,000 kept, round-0 targets from the test split and
# random latents, the pool holding the loop's own designs only. The ``paper`` setting (LPT 11).
FIRST_PARTY_SHIFTING = ShiftConfig(seeding="first_party", rounds=25, per_round=2500, pool_size=15000, shift=0.1)
# What separates the two presets, field by field (README: "One loop, two configurations").
DIFFERENCES = {k: (getattr(GRADUAL_SHIFTING, k), getattr(FIRST_PARTY_SHIFTING, k))
               for k in ("seeding", "rounds", "per_round", "pool_size")
               if getattr(GRADUAL_SHIFTING, k) != getattr(FIRST_PARTY_SHIFTING, k)}


@dataclass
class ShiftState:
    """Everything a resumed run needs: the pool, the round, and each pool molecule's latent z0
    (the chain it was designed from, or its inferred posterior), the persistent design chains."""
    pool: list[tuple[str, float]] = field(default_factory=list)
    round: int = 0
    latents: dict[str, torch.Tensor] = field(default_factory=dict)
    rejected: int = 0  # designs the ring filter dropped unscored, over all rounds
    log: list[dict] = field(default_factory=list)  # one summary a round (``shift_round``)
    # per-property raw values of pool molecules (``ShiftConfig.objectives``; empty otherwise)
    props: dict[str, tuple[float, ...]] = field(default_factory=dict)
    anchor: torch.Tensor | None = None  # z0_ref of the design energy's anchor term (``anchor_weight``)
    # canonical SMILES -> SELFIES (None: not encodable); derived, so not checkpointed
    encoded: dict[str, str | None] = field(default_factory=dict, repr=False)

    def state_dict(self) -> dict:
        return {"pool": list(self.pool), "round": self.round, "latents": dict(self.latents), "rejected": self.rejected,
                "log": [dict(r) for r in self.log], "props": {k: list(v) for k, v in self.props.items()},
                "anchor": self.anchor}

    def load_state_dict(self, s: dict) -> None:
        self.pool, self.round, self.latents = list(s["pool"]), int(s["round"]), dict(s["latents"])
        self.rejected = int(s.get("rejected", 0))
        self.log = [dict(r) for r in s.get("log", [])]
        self.props = {k: tuple(v) for k, v in s.get("props", {}).items()}
        self.anchor = s.get("anchor")


def _encode(state: ShiftState, smiles: str) -> str | None:
    """SELFIES of a pool molecule, encoded once per run (memoised)."""
    if smiles not in state.encoded:
        _, selfies, _ = to_selfies([smiles])
        state.encoded[smiles] = selfies[0] if selfies else None
    return state.encoded[smiles]


def _targets(state: ShiftState, cfg: ShiftConfig | None, smiles: str, value: float) -> list[float]:
    """The model's raw targets for a pool molecule: ``[value]``, or its per-property values
    (``cfg.objectives``, computed once per molecule and kept in ``state.props``)."""
    if cfg is None or cfg.objectives is None:
        return [value]
    if smiles not in state.props:
        state.props[smiles] = tuple(float(v) for v in cfg.objectives(smiles))
    return list(state.props[smiles])


def _shifted(state: ShiftState, cfg: ShiftConfig, starts: list[tuple[str, float]]) -> torch.Tensor:
    """(n, P) targets of the chains: each start molecule's raw targets + ``cfg.shift``."""
    ys = [_targets(state, cfg, s, v) for s, v in starts]
    shift = cfg.shift if isinstance(cfg.shift, tuple) else (cfg.shift,) * len(ys[0])
    if len(shift) != len(ys[0]):
        raise ValueError(f"shift={cfg.shift!r} is not allowed; give one float or one per property ({len(ys[0])})")
    return torch.tensor([[y + d for y, d in zip(row, shift)] for row in ys], dtype=torch.float32)


def _pool_tokens(model: LPTMolModule, vocab: SelfiesVocab, state: ShiftState, entries: list[tuple[str, float]],
                 cfg: ShiftConfig | None = None) -> tuple[list[int], list[list[int]], list[list[float]]]:
    """(positions, token rows, raw target rows) of the entries the vocabulary can encode; others skipped."""
    keep, rows, ys = [], [], []
    for i, (s, v) in enumerate(entries):
        f = _encode(state, s)
        if f is None:
            continue
        try:
            rows.append(vocab.encode(f, model.hparams.max_len))
        except ValueError:  # too long or new tokens
            continue
        keep.append(i)
        ys.append(_targets(state, cfg, s, v))
    return keep, rows, ys


def refit(model: LPTMolModule, vocab: SelfiesVocab, state: ShiftState, cfg: ShiftConfig) -> None:
    """Fine-tune on (x, y) of the pool (phase ``finetune``): ``cfg.refit_steps`` steps, or one
    pass over the pool when it is None (SGDS / DSO: one epoch a round)."""
    _, rows, ys = _pool_tokens(model, vocab, state, state.pool, cfg)
    if not rows:
        return
    steps = cfg.refit_steps if cfg.refit_steps is not None else math.ceil(len(rows) / cfg.batch_size)
    if steps == 0:
        return
    ds = TokenDataset(torch.tensor(rows), torch.tensor(ys, dtype=torch.float32))
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, inference_mode=False)
    model.hparams.phase = "finetune"
    model.train()
    trainer.fit(model, DataLoader(ds, batch_size=cfg.batch_size, shuffle=True))


def pool_latents(model: LPTMolModule, vocab: SelfiesVocab, state: ShiftState, entries: list[tuple[str, float]],
                 cfg: ShiftConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """z0 of each entry (len, N, d): its stored latent, else z0 ~ p(z0 | x, y) by the model's
    posterior Langevin (``cfg.infer_langevin``), else (not encodable) N(0, I)."""
    missing = [(s, v) for s, v in entries if s not in state.latents]
    if missing:
        keep, rows, ys = _pool_tokens(model, vocab, state, missing, cfg)
        for s, _ in missing:
            state.latents[s] = torch.randn(model.latent_shape, generator=generator)
        for lo in range(0, len(rows), 256):
            x = {"x": torch.tensor(rows[lo:lo + 256])}
            y = torch.tensor(ys[lo:lo + 256], dtype=torch.float32)
            u = model.infer_xy(x, y, schedule=cfg.infer_langevin, generator=generator).detach()
            for j, i in enumerate(keep[lo:lo + 256]):
                state.latents[missing[i][0]] = u[j]
    return torch.stack([state.latents[s] for s, _ in entries])


def shift_round(model: LPTMolModule, vocab: SelfiesVocab, oracle: Oracle, state: ShiftState, cfg: ShiftConfig,
                generator: torch.Generator | None = None) -> list[tuple[str, float]]:
    """One round (LPT / DSO code): a chain from the latent of each of the best pool molecules
    (cycled when the pool is smaller than the round), Langevin on p(z0 | y_i + shift), decode,
    drop designs still failing the ring filter after ``cfg.resample`` new decodes, score, merge
    into the top-``pool_size`` pool keeping each new molecule's latent, refit.

    Pairing: a design's latent is the chain it was decoded from; a molecule met again (in the
    round or already pooled) keeps the latent it entered with, and selection keeps a molecule
    together with its own latent (a dict keyed by canonical SMILES, so no row offset can arise:
    the released code's quirks (i) and (ii) of the DSO notes do not occur). Pool values and
    targets are in raw property units; the model transforms both the same way (``to_target``).
    With ``cfg.seeding == "first_party"``, round 0 draws its targets from a random subset of the
    seed pool, starts at N(0, I), and the seeds leave the pool."""
    if oracle.remaining is not None and oracle.remaining <= 0:
        return []
    # a full round even when fewer calls are left: the oracle scores new designs in order until the
    # budget is spent and returns None for the rest (dropped unscored), so the loop ends exactly at it
    n = cfg.per_round
    if not state.pool:
        raise ValueError("state.pool is empty; shifting starts from scored molecules (smiles, value)")
    calls0, failures0, rejected0 = oracle.calls, oracle.failures, state.rejected
    seed_round = cfg.seeding == "first_party" and state.round == 0
    if seed_round:
        order = torch.randperm(len(state.pool), generator=generator).tolist()
        starts = [state.pool[order[i % len(order)]] for i in range(n)]
        u0 = torch.randn((n, *model.latent_shape), generator=generator)
    else:
        starts = [state.pool[i % len(state.pool)] for i in range(n)]
        u0 = pool_latents(model, vocab, state, starts, cfg, generator)
    if cfg.anchor_weight > 0 and state.anchor is None:
        state.anchor = pool_latents(model, vocab, state, state.pool[:1], cfg, generator)[0].detach()
    if cfg.latent_sampling and cfg.anchor_weight > 0:
        u = _anchored_latents(model, _shifted(state, cfg, starts), u0, state.anchor, cfg, generator)
        smiles = decode(model, u, vocab, top_k=cfg.top_k, temperature=cfg.temperature, generator=generator,
                        **_prefix(cfg))
    elif cfg.latent_sampling:
        target = _shifted(state, cfg, starts)
        smiles, u = design(model, vocab, target, n, schedule=cfg.design_langevin, top_k=cfg.top_k,
                           temperature=cfg.temperature, u0=u0, generator=generator, **_prefix(cfg))
    else:  # data space only: decode at the start latents, unmoved
        u = u0
        smiles = decode(model, u, vocab, top_k=cfg.top_k, temperature=cfg.temperature, generator=generator,
                        **_prefix(cfg))
    smiles, u = _filter_rings(model, vocab, smiles, u.detach(), cfg, generator)
    state.rejected += n - len(smiles)
    scores = oracle(smiles)
    if seed_round:  # the seeds only gave round 0 its targets: the pool is the loop's own designs
        state.pool, state.latents, state.props = [], {}, {}
    new = []
    for s, v, z in zip(smiles, scores, u):
        c = canonical(s) if v is not None else None
        if c is not None:
            new.append((c, v))
            state.latents.setdefault(c, z)
    merged = dict(state.pool)
    merged.update(new)
    state.pool = sorted(merged.items(), key=lambda t: -t[1])[: cfg.pool_size]
    kept = {s for s, _ in state.pool}
    state.latents = {s: z for s, z in state.latents.items() if s in kept}
    if cfg.objectives is not None:
        for s, v in state.pool:
            _targets(state, cfg, s, v)
        state.props = {s: p for s, p in state.props.items() if s in kept}
    if cfg.refit:
        refit(model, vocab, state, cfg)
    values = [v for _, v in state.pool]
    state.log.append({"round": state.round, "calls": oracle.calls, "new_calls": oracle.calls - calls0,
                      "failures": oracle.failures - failures0, "rejected": state.rejected - rejected0,
                      "designs": len(new), "pool_size": len(values),
                      "pool_mean": sum(values) / len(values) if values else float("nan"),
                      "pool_best": values[0] if values else float("nan"),
                      "round_mean": sum(v for _, v in new) / len(new) if new else float("nan")})
    state.round += 1
    return new


def _anchored_latents(model: LPTMolModule, target: torch.Tensor, u0: torch.Tensor, anchor: torch.Tensor,
                      cfg: ShiftConfig, generator: torch.Generator | None) -> torch.Tensor:
    """z0 ~ p(z0 | y*) exp(-(lambda/2) |z0 - z0_ref|^2) by ``cfg.design_langevin`` from ``u0``: the
    design energy of ``design.sample_latents_given_y`` plus the anchor term (``anchor_weight``)."""
    model.eval()
    ref = anchor.to(u0)

    def energy(u: torch.Tensor) -> torch.Tensor:
        pull = 0.5 * cfg.anchor_weight * ((u - ref) ** 2).flatten(1).sum(1)
        return model.prior.energy(u) + model.property_energy(model.prior.transform(u), target) + pull

    return langevin_from_schedule(energy, u0, cfg.design_langevin, generator=generator).detach()


def _prefix(cfg: ShiftConfig) -> dict:
    """``prefix=`` for design / decode when the config constrains a substructure (else nothing)."""
    return {} if cfg.prefix is None else {"prefix": cfg.prefix}


def _filter_rings(model: LPTMolModule, vocab: SelfiesVocab, smiles: list[str], u: torch.Tensor, cfg: ShiftConfig,
                  generator: torch.Generator | None) -> tuple[list[str], torch.Tensor]:
    """Decode each design that fails ``cfg.ring_sizes`` again from its latent (up to
    ``cfg.resample`` times); return the designs that pass, with their latents."""
    if cfg.ring_sizes is None:
        return smiles, u
    smiles = list(smiles)
    ok = [ring_sizes_ok(s, cfg.ring_sizes) for s in smiles]
    for _ in range(cfg.resample):
        bad = [i for i, good in enumerate(ok) if not good]
        if not bad:
            break
        again = decode(model, u[bad], vocab, top_k=cfg.top_k, temperature=cfg.temperature, generator=generator,
                       **_prefix(cfg))
        for i, s in zip(bad, again):
            smiles[i], ok[i] = s, ring_sizes_ok(s, cfg.ring_sizes)
    keep = [i for i, good in enumerate(ok) if good]
    return [smiles[i] for i in keep], u[keep]


def run_shifting(model: LPTMolModule, vocab: SelfiesVocab, oracle: Oracle, state: ShiftState, cfg: ShiftConfig,
                 generator: torch.Generator | None = None, on_round=None) -> ShiftState:
    """Rounds until ``cfg.rounds`` are done or the oracle's budget is spent (never past it: a
    round asks for at most the calls left). ``on_round(state)`` runs after each round (e.g. to
    save it, :func:`save_round`)."""
    while state.round < cfg.rounds and (oracle.remaining is None or oracle.remaining > 0):
        shift_round(model, vocab, oracle, state, cfg, generator)
        if on_round is not None:
            on_round(state)
    return state


def save_round(path, model: LPTMolModule, oracle: Oracle, state: ShiftState,
               generator: torch.Generator | None = None) -> None:
    """Checkpoint a shifting run mid-way: model weights + hparams, oracle cache/budget, pool, chains, RNG.

    Plain data only (tensors, numbers, strings, lists, tuples and dicts of them), so
    :func:`load_round` reads it with ``torch.load(weights_only=True)``."""
    torch.save({"model": model.state_dict(), "hparams": dict(model.hparams), "vocab": model.vocab_state,
                "oracle": oracle.state_dict(), "shift": state.state_dict(),
                "rng": generator.get_state() if generator is not None else None}, path)


def read_round_file(path) -> dict:
    """What :func:`save_round` wrote, read with ``weights_only=True``: a file holding anything but
    plain data (a crafted pickle that would run code) is refused, and nothing in it runs.

    Raises ``ValueError("PATH is not a valid design-round file (...)")`` in one line."""
    try:
        ck = torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise ValueError(f"{path} is not a valid design-round file (no such file)") from None
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for bytes it will not read
        raise ValueError(f"{path} is not a valid design-round file ({_load_reason(err)})") from None
    missing = [k for k in ("model", "hparams", "vocab", "oracle", "shift", "rng") if not isinstance(ck, dict) or k not in ck]
    if missing:
        raise ValueError(f"{path} is not a valid design-round file (no {', '.join(missing)}: not saved by save_round)")
    return ck


def _load_reason(err: BaseException) -> str:
    """torch's reason in one short line, without its advice to load with ``weights_only=False``
    (unsafe: it would run the file's code)."""
    advice = ("weights_only", "Weights only load failed", "Check the documentation", "In PyTorch 2.6")
    parts = [" ".join(p.split()) for p in str(err).split("\n\n") if p.strip()]
    reasons = [p for p in parts if not any(a in p for a in advice)]
    reason = (reasons[0] if reasons else "unreadable")[:160]
    if "GLOBAL" in reason:
        reason += "; it holds code to run, not plain data, and was not loaded"
    return f"{type(err).__name__}: {reason}"


def load_round(path, oracle: Oracle, generator: torch.Generator | None = None, *,
               model_class: type[LPTMolModule] = LPTMolModule) -> tuple[LPTMolModule, ShiftState]:
    """Restore what :func:`save_round` wrote; ``oracle`` (same function) gets its cache and counts back.
    ``model_class``: the saved model's class (a subclass of :class:`LPTMolModule`, e.g. DSO's).

    Loads with ``weights_only=True`` (:func:`read_round_file`): a crafted file is refused with a
    one-line ``ValueError`` and never runs."""
    ck = read_round_file(path)
    names = set(inspect.signature(LPTMolModule.__init__).parameters) | set(inspect.signature(model_class.__init__).parameters)
    model = model_class(**{k: v for k, v in ck["hparams"].items() if k in names})
    model.load_state_dict(ck["model"])
    model.vocab_state = ck["vocab"]
    oracle.load_state_dict(ck["oracle"])
    state = ShiftState()
    state.load_state_dict(ck["shift"])
    if generator is not None and ck["rng"] is not None:
        generator.set_state(ck["rng"])
    return model, state
