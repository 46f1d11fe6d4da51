"""SELFIES data pipeline: vocabulary, encoding, ZINC250k/MOSES loading (cached), DataModule.

Splits: ZINC250k's test split is its standard held-out rows (``valid_idx_zinc250k.json``, the
split MOOD, MoFlow and GDSS use), kept out of training and validation; MOSES's is its own
``test.csv.gz``; ``nci5k`` (RDKit's NCI molecules, offline) has none, so there test = validation.
"""
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

from latent_ebm.core.checks import check_choice, check_int, check_real, not_allowed, require
from latent_ebm.core.data import epoch_loader

from .oracles import ORACLES, canonical

__all__ = ["LPTMolDataModule", "SelfiesVocab", "load_smiles", "to_selfies", "zinc250k_test_rows"]

PAD, BOS, EOS = "[nop]", "<bos>", "<eos>"


def to_selfies(smiles: Sequence[str]) -> tuple[list[str], list[str], int]:
    """(kept smiles, their SELFIES, number skipped). Unparseable or unencodable SMILES are skipped."""
    _, keep_s, keep_f = _encode_rows(smiles)
    return keep_s, keep_f, len(smiles) - len(keep_s)


def _encode_rows(smiles: Sequence[str]) -> tuple[list[int], list[str], list[str]]:
    """(positions kept, canonical SMILES, SELFIES) of the SMILES RDKit parses and SELFIES encodes."""
    rows, keep_s, keep_f = [], [], []
    for i, s in enumerate(smiles):
        can = canonical(s)
        try:
            f = sf.encoder(can) if can is not None else None
        except sf.EncoderError:
            f = None
        if f is None:
            continue
        rows.append(i)
        keep_s.append(can)
        keep_f.append(f)
    return rows, keep_s, keep_f


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


def load_smiles(dataset: Literal["zinc250k", "moses", "nci5k"], limit: int | None = None, *,
                split: Literal["train", "test"] = "train") -> list[str]:
    """SMILES of a dataset (first ``limit``): ZINC250k / MOSES from the registry through
    core.data.get_file (downloaded and checksummed once); ``nci5k`` from RDKit's own data, offline.

    ``split="test"`` is MOSES's ``test.csv.gz``; ZINC250k is one file whose test rows
    :func:`zinc250k_test_rows` names, and ``nci5k`` has no test split."""
    from latent_ebm.core.data import get_file

    check_choice("split", split, ("train", "test"))
    if split == "test" and dataset != "moses":
        raise not_allowed("split", split, f"only MOSES has a test file; {dataset!r} has none")
    if dataset == "nci5k":
        lines = _nci5k_lines()
    elif dataset == "zinc250k":
        path = get_file("zinc250k", "250k_rndm_zinc_drugs_clean.smi.gz")
        with gzip.open(path, "rt") as fh:
            lines = fh.read().split("\n")
    elif dataset == "moses":
        path = get_file("moses", f"{split}.csv.gz")
        with gzip.open(path, "rt") as fh:
            lines = fh.read().split("\n")[1:]
    else:
        raise not_allowed("dataset", dataset, f"use one of {', '.join(map(repr, DATASETS))}")
    smiles = [s.strip() for s in lines if s.strip()]
    return smiles[:limit] if limit is not None else smiles


def zinc250k_test_rows() -> set[int]:
    """Rows (0-based lines of ``250k_rndm_zinc_drugs_clean.smi.gz``) of ZINC250k's standard held-out
    test split: ``valid_idx_zinc250k.json`` (24,887 rows; MOOD, MoFlow and GDSS hold them out)."""
    from latent_ebm.core.data import get_file

    return set(json.loads(Path(get_file("zinc250k", "valid_idx_zinc250k.json")).read_text()))


def _cache_file(dataset: str, limit: int | None, props: Sequence[str], split: str = "train") -> Path:
    from latent_ebm.core.data import artifact_dir

    name = dataset if split == "train" else f"{dataset}-{split}"
    return Path(artifact_dir("lpt_mol")) / f"{name}-{limit}-{'_'.join(props)}.json"


def prepare(dataset: str, limit: int | None, props: Sequence[str], split: str = "train") -> dict:
    """Canonical SMILES, SELFIES, properties and source rows (line of each kept molecule in the
    dataset's file), converted once and cached as JSON."""
    path = _cache_file(dataset, limit, props, split)
    if path.exists():
        out = json.loads(path.read_text())
        if "rows" in out:  # files cached before the rows were recorded are converted again
            return out
    raw = load_smiles(dataset, limit, split=split)  # type: ignore[arg-type]
    rows, smiles, selfies = _encode_rows(raw)
    y = {p: [ORACLES[p](s) for s in smiles] for p in props}
    out = {"smiles": smiles, "selfies": selfies, "props": y, "skipped": len(raw) - len(smiles), "rows": rows}
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


class _PredictRows(Dataset):
    """``n`` rows for ``predict``: the model draws one molecule per row, conditioned on ``"y"``
    (raw property values) when a target is given."""

    def __init__(self, n: int, target: Sequence[float] | None) -> None:
        self.n = n
        self.y = None if target is None else torch.tensor([float(v) for v in target], dtype=torch.float32)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return {"index": i} if self.y is None else {"index": i, "y": self.y}


class LPTMolDataModule(L.LightningDataModule):
    """ZINC250k / MOSES (registry) or NCI-5k (shipped with RDKit, offline) as SELFIES token tensors
    plus property targets; ``limit`` sizes tiny runs.

    Args: dataset, limit (the first ``limit`` molecules of its file), properties (computed with
        RDKit for each molecule: the regression targets of phase ``finetune``), max_len (SELFIES
        tokens; longer molecules are skipped), val_fraction, batch_size, split_seed (of the
        train / validation split), hold_out_test, predict_n, predict_target.
    Splits: validation is a random ``val_fraction`` of the training molecules. ``test`` on
        ZINC250k is its standard held-out split (``valid_idx_zinc250k.json``: the rows among the
        first ``limit``), never trained on or validated with while ``hold_out_test`` is true
        (False: every row in train / validation, as the benchmarks in ``benchmarks/`` ran); on
        MOSES it is the start of ``test.csv.gz`` (as many molecules as validation, those the
        vocabulary encodes); ``nci5k`` has no test split: test = validation.
    Predict: ``predict_n`` molecules (``predict --n N`` sets it), sampled from the prior; with
        ``predict_target`` (raw values, one per property, e.g. ``[0.9]`` for QED) sampled from
        p(z0 | y = target) instead, which needs a model fitted in phase ``finetune``.
    """

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
        hold_out_test: bool = True,
        predict_n: int = 100,
        predict_target: tuple[float, ...] | None = None,
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
        check_choice("hold_out_test", hold_out_test, (True, False))
        check_int("predict_n", predict_n, low=1)
        if predict_target is not None:
            target = list(predict_target) if isinstance(predict_target, Sequence) else None
            require("predict_target", predict_target if target is None else target,
                    target is not None and len(target) == len(properties) and all(
                        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in target),
                    f"give one finite value per property {list(properties)}, e.g. [0.9]")
        self.predict_n = predict_n
        self.vocab: SelfiesVocab | None = None
        self.test_set: TokenDataset | None = None

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
        held = torch.zeros(len(x), dtype=torch.bool)
        if h.dataset == "zinc250k" and h.hold_out_test:
            test_rows = zinc250k_test_rows()
            held = torch.tensor([d["rows"][i] in test_rows for i in keep], dtype=torch.bool)
        pool = (~held).nonzero().flatten()  # every molecule when nothing is held out: the split as before
        perm = pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(h.split_seed))]
        n_val = max(1, int(h.val_fraction * len(pool)))
        self.val_idx, self.train_idx = perm[:n_val], perm[n_val:]
        self.test_idx = held.nonzero().flatten()  # positions in ``smiles`` of ZINC250k's test molecules
        self.train_set = TokenDataset(x[self.train_idx], y[self.train_idx])
        self.val_set = TokenDataset(x[self.val_idx], y[self.val_idx])
        if len(self.test_idx):
            self.test_set = TokenDataset(x[self.test_idx], y[self.test_idx])

    def _moses_test(self) -> TokenDataset:
        """The first molecules of MOSES's test file, as many as validation has, that the
        vocabulary encodes (others skipped)."""
        h = self.hparams
        d = prepare("moses", len(self.val_set), h.properties, split="test")
        rows, ys = [], []
        for i, f in enumerate(d["selfies"]):
            try:
                rows.append(self.vocab.encode(f, h.max_len))
            except ValueError:  # too long, or a token the training molecules never use
                continue
            ys.append([d["props"][p][i] for p in h.properties])
        if not rows:
            raise not_allowed("dataset", h.dataset, "no molecule of its test file fits the vocabulary and max_len")
        return TokenDataset(torch.tensor(rows), torch.tensor(ys, dtype=torch.float32))

    def train_dataloader(self) -> DataLoader:
        # (split_seed, epoch)-keyed order that resumes exactly, in mid-epoch too (the core's epoch_loader)
        return epoch_loader(self.train_set, self.hparams.batch_size, seed=self.hparams.split_seed, trainer=self.trainer)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> DataLoader:
        """The test split (see the class's docstring); ``nci5k`` has none: its validation split."""
        h = self.hparams
        if h.dataset == "moses" and self.test_set is None:
            self.test_set = self._moses_test()
        if self.test_set is not None:
            return DataLoader(self.test_set, batch_size=h.batch_size)
        if h.dataset == "zinc250k" and h.hold_out_test:
            raise not_allowed("limit", h.limit, "the first `limit` molecules hold none of ZINC250k's held-out "
                              "test rows (about 1 in 10); raise it")
        return self.val_dataloader()

    def predict_dataloader(self) -> DataLoader:
        """``predict_n`` rows: one molecule each (with ``predict_target``, conditioned on it)."""
        return DataLoader(_PredictRows(self.predict_n, self.hparams.predict_target),
                          batch_size=self.hparams.batch_size)
