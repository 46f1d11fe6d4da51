"""Gradual distribution shifting (arXiv 2310.03253, Sec. 3): sample at a shifted target, score
with the oracle, add to the pool, refit; repeat. Every oracle call goes through ``Oracle``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import lightning as L
import torch
from torch.utils.data import DataLoader

from .data import SelfiesVocab, TokenDataset, to_selfies
from .design import design
from .model import LPTMol
from .oracles import Oracle, canonical

__all__ = ["ShiftConfig", "ShiftState", "load_round", "refit", "run_shifting", "save_round", "shift_round"]


@dataclass
class ShiftConfig:
    rounds: int = 5
    per_round: int = 200      # molecules designed per round
    shift: float = 0.1        # target = best pool value + shift (raw units; LPT code uses +0.1)
    pool_size: int = 2000     # keep the top pool_size of old ∪ new (SGDS / LPT code)
    refit_steps: int = 20
    batch_size: int = 64


@dataclass
class ShiftState:
    """Everything a resumed run needs: the pool, the round, persistent design chains."""
    pool: list[tuple[str, float]] = field(default_factory=list)
    round: int = 0
    chains: torch.Tensor | None = None
    # canonical SMILES -> SELFIES (None: not encodable); derived, so not checkpointed
    encoded: dict[str, str | None] = field(default_factory=dict, repr=False)

    def state_dict(self) -> dict:
        return {"pool": list(self.pool), "round": self.round, "chains": self.chains}

    def load_state_dict(self, s: dict) -> None:
        self.pool, self.round, self.chains = list(s["pool"]), int(s["round"]), s["chains"]


def _encode_pool(state: ShiftState) -> list[tuple[str, float]]:
    """(SELFIES, value) of the pool; each molecule is SELFIES-encoded once per run (memoised)."""
    for s, _ in state.pool:
        if s not in state.encoded:
            _, selfies, _ = to_selfies([s])
            state.encoded[s] = selfies[0] if selfies else None
    return [(state.encoded[s], v) for s, v in state.pool if state.encoded.get(s) is not None]


def refit(model: LPTMol, vocab: SelfiesVocab, state: ShiftState, cfg: ShiftConfig) -> None:
    """Fine-tune on (x, y) of the pool for ``cfg.refit_steps`` steps (phase ``finetune``)."""
    rows, ys = [], []
    for f, v in _encode_pool(state):
        try:
            rows.append(vocab.encode(f, model.hparams.max_len))
            ys.append([v])
        except ValueError:  # too long or new tokens: skipped
            continue
    if not rows:
        return
    ds = TokenDataset(torch.tensor(rows), torch.tensor(ys, dtype=torch.float32))
    trainer = L.Trainer(max_steps=cfg.refit_steps, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, inference_mode=False)
    model.hparams.phase = "finetune"
    model.train()
    trainer.fit(model, DataLoader(ds, batch_size=cfg.batch_size, shuffle=True))


def shift_round(model: LPTMol, vocab: SelfiesVocab, oracle: Oracle, state: ShiftState, cfg: ShiftConfig,
                generator: torch.Generator | None = None) -> list[tuple[str, float]]:
    """One round: design at best + shift, score, merge into the top-``pool_size`` pool, refit."""
    n = cfg.per_round if oracle.remaining is None else min(cfg.per_round, oracle.remaining)
    if n <= 0:
        return []
    best = max((v for _, v in state.pool), default=0.0)
    u0 = state.chains[:n] if state.chains is not None and len(state.chains) >= n else None
    smiles, u = design(model, vocab, [best + cfg.shift], n, u0=u0, generator=generator)
    scores = oracle(smiles)
    new = [(canonical(s), v) for s, v in zip(smiles, scores) if v is not None]
    merged = dict(state.pool)
    merged.update({s: v for s, v in new})
    state.pool = sorted(merged.items(), key=lambda t: -t[1])[: cfg.pool_size]
    state.chains = u
    refit(model, vocab, state, cfg)
    state.round += 1
    return new


def run_shifting(model: LPTMol, vocab: SelfiesVocab, oracle: Oracle, state: ShiftState, cfg: ShiftConfig,
                 generator: torch.Generator | None = None) -> ShiftState:
    while state.round < cfg.rounds and (oracle.remaining is None or oracle.remaining > 0):
        shift_round(model, vocab, oracle, state, cfg, generator)
    return state


def save_round(path, model: LPTMol, oracle: Oracle, state: ShiftState,
               generator: torch.Generator | None = None) -> None:
    """Checkpoint a shifting run mid-way: model weights + hparams, oracle cache/budget, pool, chains, RNG."""
    torch.save({"model": model.state_dict(), "hparams": dict(model.hparams), "vocab": model.vocab_state,
                "oracle": oracle.state_dict(), "shift": state.state_dict(),
                "rng": generator.get_state() if generator is not None else None}, path)


def load_round(path, oracle: Oracle, generator: torch.Generator | None = None) -> tuple[LPTMol, ShiftState]:
    """Restore what :func:`save_round` wrote; ``oracle`` (same function) gets its cache and counts back."""
    ck = torch.load(path, weights_only=False)
    names = inspect.signature(LPTMol.__init__).parameters
    model = LPTMol(**{k: v for k, v in ck["hparams"].items() if k in names})
    model.load_state_dict(ck["model"])
    model.vocab_state = ck["vocab"]
    oracle.load_state_dict(ck["oracle"])
    state = ShiftState()
    state.load_state_dict(ck["shift"])
    if generator is not None and ck["rng"] is not None:
        generator.set_state(ck["rng"])
    return model, state
