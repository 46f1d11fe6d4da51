"""SELFIES data pipeline: vocabulary, encoding, ZINC250k/MOSES loading (cached), DataModule."""
from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import lightning as L
import numpy as np
import selfies as sf
import torch
from torch.utils.data import DataLoader, Dataset

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed

from .oracles import ORACLES, canonical

__all__ = ["LPTMolDataModule", "SelfiesVocab", "load_smiles", "to_selfies"]

PAD, BOS, EOS = "[nop]", "<bos>", "<eos>"


def to_selfies(smiles: Sequence[str]) -> tuple[list[str], list[str], int]:
    """(kept smiles, their SELFIES, number skipped). Unparseable or unencodable SMILES are skipped."""
    keep_s, keep_f, skipped = [], [], 0
    for s in smiles:
        can = canonical(s)
        try:
            f = sf.encoder(can) if can is not None else None
        except sf.EncoderError:
            f = None
        if f is None:
            skipped += 1
            continue
        keep_s.append(can)
        keep_f.append(f)
    return keep_s, keep_f, skipped


class SelfiesVocab:
    """Token <-> index map over SELFIES symbols; index 0 is padding, then <bos>, <eos>."""

    def __init__(self, symbols: Sequence[str]) -> None:
        extra = sorted(set(symbols) - {PAD, BOS, EOS})
        self.itos = [PAD, BOS, EOS, *extra]
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.pad, self.bos, self.eos = 0, 1, 2

    @classmethod
    def from_selfies(cls, selfies: Sequence[str]) -> SelfiesVocab:
        return cls(sorted({t for f in selfies for t in sf.split_selfies(f)}))

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, selfie: str, max_len: int) -> list[int]:
        """[bos, tokens..., eos, pad...] of length max_len + 1 (raises if too long or unknown)."""
        toks = list(sf.split_selfies(selfie))
        if len(toks) + 2 > max_len + 1:
            raise ValueError(f"selfie has {len(toks)} tokens; max_len={max_len} allows {max_len - 1}")
        unknown = [t for t in toks if t not in self.stoi]
        if unknown:
            raise ValueError(f"selfie has tokens {unknown} outside the vocabulary")
        ids = [self.bos, *(self.stoi[t] for t in toks), self.eos]
        return ids + [self.pad] * (max_len + 1 - len(ids))

    def decode(self, ids: Sequence[int]) -> str:
        """SMILES from token ids (stops at <eos>; skips <bos>/padding). Always valid by SELFIES."""
        toks = []
        for i in ids:
            i = int(i)
            if i == self.eos:
                break
            if i in (self.pad, self.bos) or i >= len(self.itos):
                continue
            toks.append(self.itos[i])
        return sf.decoder("".join(toks)) or ""

    def state_dict(self) -> dict:
        return {"itos": list(self.itos)}

    @classmethod
    def from_state(cls, state: dict) -> SelfiesVocab:
        return cls(state["itos"][3:])


DATASETS = ("zinc250k", "moses", "nci5k")


def _nci5k_lines() -> list[str]:
    """The 5k NCI molecules that RDKit ships (``RDDataDir/NCI/first_5K.smi``): the offline default."""
    from rdkit import RDConfig

    path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def load_smiles(dataset: Literal["zinc250k", "moses", "nci5k"], limit: int | None = None) -> list[str]:
    """SMILES of a dataset (first ``limit``): ZINC250k / MOSES from the registry through
    core.data.get_file (downloaded and checksummed once); ``nci5k`` from RDKit's own data, offline."""
    from latent_ebm.core.data import get_file

    if dataset == "nci5k":
        lines = _nci5k_lines()
    elif dataset == "zinc250k":
        path = get_file("zinc250k", "250k_rndm_zinc_drugs_clean.smi.gz")
        with gzip.open(path, "rt") as fh:
            lines = fh.read().split("\n")
    elif dataset == "moses":
        path = get_file("moses", "train.csv.gz")
        with gzip.open(path, "rt") as fh:
            lines = fh.read().split("\n")[1:]
    else:
        raise not_allowed("dataset", dataset, f"use one of {', '.join(map(repr, DATASETS))}")
    smiles = [s.strip() for s in lines if s.strip()]
    return smiles[:limit] if limit is not None else smiles


def _cache_file(dataset: str, limit: int | None, props: Sequence[str]) -> Path:
    from latent_ebm.core.data import artifact_dir

    return Path(artifact_dir("lpt_mol")) / f"{dataset}-{limit}-{'_'.join(props)}.json"


def prepare(dataset: str, limit: int | None, props: Sequence[str]) -> dict:
    """Canonical SMILES, SELFIES and properties, converted once and cached as JSON."""
    path = _cache_file(dataset, limit, props)
    if path.exists():
        return json.loads(path.read_text())
    smiles, selfies, skipped = to_selfies(load_smiles(dataset, limit))  # type: ignore[arg-type]
    y = {p: [ORACLES[p](s) for s in smiles] for p in props}
    out = {"smiles": smiles, "selfies": selfies, "props": y, "skipped": skipped}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


class TokenDataset(Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "y": self.y[i], "index": i}


class LPTMolDataModule(L.LightningDataModule):
    """ZINC250k / MOSES (registry) or NCI-5k (shipped with RDKit, offline) as SELFIES token tensors
    plus property targets; ``limit`` sizes tiny runs."""

    def __init__(
        self,
        *,
        dataset: Literal["zinc250k", "moses", "nci5k"] = "zinc250k",
        limit: int | None = None,
        properties: tuple[str, ...] = ("qed",),
        max_len: int = 72,
        val_fraction: float = 0.05,
        batch_size: int = 128,
        split_seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_choice("dataset", dataset, DATASETS)
        check_int("limit", limit, low=1, allow_none=True)
        if isinstance(properties, str) or any(p not in ORACLES for p in properties):
            raise not_allowed("properties", properties, f"each must be one of {sorted(ORACLES)}")
        check_int("max_len", max_len, low=2)
        check_real("val_fraction", val_fraction, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("batch_size", batch_size, low=1)
        check_int("split_seed", split_seed)
        self.vocab: SelfiesVocab | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.vocab is not None:
            return
        h = self.hparams
        d = prepare(h.dataset, h.limit, h.properties)
        self.smiles, selfies = d["smiles"], d["selfies"]
        self.vocab = SelfiesVocab.from_selfies(selfies)
        keep = [i for i, f in enumerate(selfies) if sf.len_selfies(f) + 1 <= h.max_len]
        self.skipped = d["skipped"] + len(selfies) - len(keep)
        x = torch.tensor([self.vocab.encode(selfies[i], h.max_len) for i in keep])  # (N, T+1)
        y = torch.tensor(np.array([[d["props"][p][i] for p in h.properties] for i in keep]), dtype=torch.float32)
        self.smiles = [self.smiles[i] for i in keep]
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(h.split_seed))
        n_val = max(1, int(h.val_fraction * len(x)))
        self.val_idx, self.train_idx = perm[:n_val], perm[n_val:]
        self.train_set = TokenDataset(x[self.train_idx], y[self.train_idx])
        self.val_set = TokenDataset(x[self.val_idx], y[self.val_idx])

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size, shuffle=True, drop_last=False)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> DataLoader:
        return self.val_dataloader()
