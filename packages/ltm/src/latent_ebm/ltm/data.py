"""LightningDataModule for LTM and its GPT baseline: GPT-2 BPE corpora or the latent-topic corpus.

Text corpora are tokenized once (GPT-2 BPE) into a ``uint16`` memmap shard per split and layout in
the token cache. Two layouts (``layout``), with L = ``seq_len``, the decoder's context:

- ``block-bos`` (the package's; the CPU configs): documents joined by EOS; block i is
  ``[BOS] + stream[i*(L-1):(i+1)*(L-1)]``, L tokens, L-1 predicted.
- ``first-party`` (the paper-scale configs): every document is ``BOS + text + EOS`` in the shard,
  and example i is the window ``stream[i*L : i*L + L + 1]``, L+1 tokens, L predicted (first-party
  ``owt.py`` ``PretokDatasetWithLatent``: ``chunk = m[start:start + max_seq_len + 1]``, x = chunk[:-1],
  y = chunk[1:]); a window starts wherever the stride puts it, so BOS sits at document starts only.

``tokenizer="char"`` (tinyshakespeare, nanoGPT's ``shakespeare_char``): the vocabulary is the sorted
characters of the training text (65 on tinyshakespeare) plus BOS, no shard (the ids are made in
memory in milliseconds), and the split is nanoGPT's: the first 90 % of the characters train, the
last 10 % validate (and test: there is no third split, as for OpenWebText). With ``layout:
first-party`` the stream is the plain characters (no BOS, no EOS), so an example is nanoGPT's
``x, y = data[i:i+L], data[i+1:i+L+1]``; ``train_stride: 1`` makes every offset a training example,
which an epoch-shuffled sampler draws like nanoGPT's random offsets (without replacement).

The zero-shot blocks are built in :func:`~latent_ebm.ltm.evaluate.zero_shot_blocks`: first-party
plain chunks or MDLM's ``[BOS] + L-2 tokens + [EOS]``. ``latent-topic`` is generated in memory
(offline, seconds): one document per example, BOS + L-1 topic tokens (``block-bos``) or BOS + L
(``first-party``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from latent_ebm.core.checks import check_choice, check_int, require
from latent_ebm.core.data import EpochShuffle, epoch_loader
from latent_ebm.core.lightning import apply_global_batch

from .corpus import LatentTopicCorpus, read_text_documents
from .tokenizer import BOS_ID, EOS_ID, GPT2_VOCAB_SIZE

__all__ = ["BlockDataset", "CharVocab", "EpochShuffle", "LTMDataModule", "Layout", "TokenBlocks", "token_cache_dir",
           "tokenize_to_shard"]

DatasetName = Literal["latent-topic", "wikitext-2", "ptb", "tinyshakespeare", "lambada", "openwebtext"]
_TEXT = ("wikitext-2", "ptb", "tinyshakespeare", "lambada", "openwebtext")
Layout = Literal["block-bos", "first-party"]
Tokenizer = Literal["gpt2-bpe", "char"]
_SHARD_DIR = {"block-bos": "gpt2", "first-party": "gpt2-bos-docs"}  # the cache key: layouts never share a shard


def token_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where tokenized shards live: ``cache_dir``, ``$LATENT_EBM_TOKEN_CACHE`` or ``~/.cache/latent-ebm-tokens``.

    Deliberately not ``$LATENT_EBM_DATA_DIR``: that folder holds verified raw files and may be read-only.
    """
    return Path(cache_dir or os.environ.get("LATENT_EBM_TOKEN_CACHE") or "~/.cache/latent-ebm-tokens").expanduser()


def _write_shard(path: Path, chunks) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        for ids in chunks:
            np.asarray(ids, dtype=np.uint16).tofile(f)
    tmp.replace(path)  # atomic: a half-written shard is never read


def tokenize_to_shard(dataset: str, split: str, cache_dir: str | os.PathLike | None = None,
                      layout: Layout = "block-bos") -> Path:
    """Tokenize a split once into a uint16 shard: ``<cache>/gpt2/<dataset>/<split>.bin`` (``block-bos``:
    each document + EOS) or ``<cache>/gpt2-bos-docs/<dataset>/<split>.bin`` (``first-party``: BOS +
    each document + EOS, as the first-party tokenizer writes OpenWebText)."""
    check_choice("layout", layout, _SHARD_DIR)
    path = token_cache_dir(cache_dir) / _SHARD_DIR[layout] / dataset / f"{split}.bin"
    if path.exists():
        return path
    from .tokenizer import gpt2_tokenizer

    tok = gpt2_tokenizer()
    head = [BOS_ID] if layout == "first-party" else []
    if dataset == "openwebtext":
        _write_shard(path, ([*head, *ids] for ids in _openwebtext_chunks(tok, split)))
        return path
    docs = read_text_documents(dataset, split)
    _write_shard(path, ([*head, *ids, EOS_ID] for ids in tok.encode_batch(docs)))
    return path


def _openwebtext_chunks(tok, split: str):
    """OpenWebText via ``datasets`` (paper scale; nanoGPT's split: 0.05 % validation, seed 2357)."""
    try:
        import datasets
    except ImportError as err:
        raise RuntimeError("dataset='openwebtext' needs the `datasets` library: pip install 'latent-ebm-ltm[owt]'") from err
    ds = datasets.load_dataset("openwebtext", split="train", trust_remote_code=True)
    parts = ds.train_test_split(test_size=0.0005, seed=2357, shuffle=True)
    part = parts["train" if split == "train" else "test"]
    for i in range(0, len(part), 1024):
        for ids in tok.encode_batch(part[i : i + 1024]["text"]):
            yield [*ids, EOS_ID]


def _char_splits(dataset: str) -> dict[str, str]:
    """nanoGPT's character-level split of a one-document corpus: first 90 % train, last 10 %
    validation (= test)."""
    from latent_ebm.core.data import get_file

    from .corpus import _FILES

    require("tokenizer", "char", dataset == "tinyshakespeare",
            f"tokenizer='char' is for tinyshakespeare (one plain-text document), not dataset={dataset!r}")
    text = get_file(dataset, _FILES[dataset]["train"]).read_text(encoding="utf-8")
    cut = int(0.9 * len(text))
    return {"train": text[:cut], "validation": text[cut:], "test": text[cut:]}


class CharVocab:
    """Character vocabulary: the sorted distinct characters of ``text`` get ids 0..V-1 (nanoGPT's
    ``stoi``), BOS is V. Encoding a character the vocabulary lacks is a one-line error."""

    def __init__(self, text: str) -> None:
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.bos = len(self.chars)

    def __len__(self) -> int:
        return len(self.chars) + 1  # + BOS

    def encode(self, text: str) -> np.ndarray:
        missing = sorted(set(text) - self.stoi.keys())
        require("text", text[:20], not missing, f"characters {missing[:5]} are not in the training text's vocabulary")
        return np.fromiter((self.stoi[c] for c in text), dtype=np.uint16, count=len(text))

    def decode(self, ids) -> str:
        return "".join(self.chars[i] for i in ids if 0 <= i < len(self.chars))


class BlockDataset(Dataset):
    """Examples of a 1-d token stream (L = seq_len) as ``{"x": tokens, "index": i}``.

    ``block-bos``: ``[BOS] + stream[i*(L-1):(i+1)*(L-1)]``, (L,) tokens. ``first-party``: the window
    ``stream[i*L : i*L + L + 1]``, (L+1,) tokens (consecutive windows share one token; the stream
    carries its own BOS per document), as the first-party ``owt.py``. Only whole examples are kept.
    ``stride`` (first-party only; default L): example i starts at ``i * stride`` (1: every offset).
    """

    def __init__(self, stream: np.ndarray, seq_len: int, bos: int, layout: Layout = "block-bos",
                 stride: int | None = None) -> None:
        check_choice("layout", layout, _SHARD_DIR)
        check_int("stride", stride, low=1, allow_none=True)
        require("stride", stride, stride is None or layout == "first-party", "it needs layout='first-party'")
        self.stream, self.seq_len, self.bos, self.layout = stream, seq_len, bos, layout
        self.stride = stride or seq_len
        self.n = (max(0, (len(stream) - seq_len - 1) // self.stride + 1) if layout == "first-party"
                  else len(stream) // (seq_len - 1))

    def __len__(self) -> int:
        return self.n

    def block(self, i: int) -> torch.Tensor:
        """Example i as an int64 tensor: (seq_len,) (block-bos) or (seq_len + 1,) (first-party)."""
        L = self.seq_len
        if self.layout == "first-party":
            s = i * self.stride
            return torch.from_numpy(np.asarray(self.stream[s : s + L + 1], dtype=np.int64))
        body = np.asarray(self.stream[i * (L - 1) : (i + 1) * (L - 1)], dtype=np.int64)
        return torch.cat([torch.tensor([self.bos]), torch.from_numpy(body)])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.block(i), "index": torch.tensor(i)}


class TokenBlocks(Dataset):
    """Rows of a (n, L) token tensor as ``{"x": (L,), "index": i}``; with ``index=False`` (prompts,
    which are not training examples) ``{"x": ...}`` only."""

    def __init__(self, x: torch.Tensor | list[torch.Tensor], *, index: bool = True) -> None:
        self.x, self.index = x, index

    def __len__(self) -> int:
        return len(self.x)

    def block(self, i: int) -> torch.Tensor:
        return self.x[i]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "index": torch.tensor(i)} if self.index else {"x": self.x[i]}


class LTMDataModule(L.LightningDataModule):
    """Batches ``{"x": (B, seq_len) tokens, "index": (B,)}`` for ``fit``/``validate``/``test``
    (``index``: the block's position in its split), ``{"x": (1, T0) prompt}`` for ``predict``.

    Args:
        dataset: a registry corpus (GPT-2 BPE), ``openwebtext`` (downloads via ``datasets``; paper
            scale), or the offline ``latent-topic`` corpus.
        seq_len: the decoder's context L: ``block-bos`` examples are L tokens (BOS included), L-1
            predicted; ``first-party`` ones are L+1 tokens, L predicted (the model's ``seq_len`` is
            L in both).
        layout: how text corpora are laid out (module docstring): ``block-bos`` (default; BOS at
            every block start) or ``first-party`` (BOS at every document start, L+1-token windows;
            the paper-scale configs). Each layout has its own tokenised shards.
        batch_size / eval_batch_size: training / evaluation batch sizes (per device).
        global_batch_size: sequences per optimiser step over all devices (the paper: 512); the
            Trainer's ``accumulate_grad_batches`` becomes global / (batch_size x devices) at fit
            setup, as the first-party code divides its accumulation by the world size. None: no
            accumulation (the global batch is then batch_size x devices).
        test_split: split used by ``test``: ``test`` (default) or ``validation``. The text corpora's
            test split is their own test file (WikiText-2 ``test.txt``, PTB ``ptb.test.txt``,
            TinyShakespeare's last 5 % of characters, LAMBADA's only split); OpenWebText has no
            test split, so its held-out 0.05 % serves as both validation and test (test =
            validation). latent-topic's test split is ``n_val_docs`` fresh documents of the same
            corpus (their own seed, ``corpus_seed + 3``), held out like the validation ones.
        topic_vocab, topic_count, topic_weight, n_train_docs, n_val_docs, corpus_seed: the
            latent-topic corpus (:class:`~latent_ebm.ltm.corpus.LatentTopicCorpus`).
        predict_prompts: prompt strings for ``predict`` (text corpora; encoded with GPT-2 BPE,
            BOS-prefixed), used in turn. Empty: unconditional samples from BOS. latent-topic
            prompts are instead the first ``prompt_len`` tokens (BOS included) of fresh
            documents of the corpus (seed ``corpus_seed + 4``).
        predict_n: how many samples ``predict`` writes (``predict --n N`` sets it); None: one per
            ``predict_prompts`` string, else 4.
        cache_dir: tokenized-shard cache (see :func:`token_cache_dir`).
        tokenizer: ``gpt2-bpe`` (default; GPT-2 BPE + BOS, vocab 50258) or ``char`` (tinyshakespeare
            only: nanoGPT's character vocabulary of the training text + BOS, 90 / 10 split; module
            docstring).
        train_stride: ``first-party`` layout only: training examples start every ``train_stride``
            tokens (None: ``seq_len``, non-overlapping; 1: every offset, nanoGPT's random windows
            when shuffled). Validation and test windows stay ``seq_len`` apart.
    """

    def __init__(
        self,
        dataset: DatasetName = "latent-topic",
        seq_len: int = 64,
        batch_size: int = 16,
        eval_batch_size: int | None = None,
        test_split: Literal["validation", "test"] = "test",
        layout: Layout = "block-bos",
        topic_vocab: int = 64,
        topic_count: int = 16,
        topic_weight: float = 0.5,
        n_train_docs: int = 4096,
        n_val_docs: int = 256,
        corpus_seed: int = 0,
        predict_prompts: list[str] | None = None,
        prompt_len: int = 16,
        predict_n: int | None = None,
        global_batch_size: int | None = None,
        num_workers: int = 0,
        cache_dir: str | None = None,
        tokenizer: Tokenizer = "gpt2-bpe",
        train_stride: int | None = None,
    ) -> None:
        super().__init__()
        check_choice("dataset", dataset, DatasetName.__args__)
        check_choice("layout", layout, Layout.__args__)
        for name, v, lo in (("seq_len", seq_len, 2), ("batch_size", batch_size, 1), ("n_train_docs", n_train_docs, 1),
                            ("n_val_docs", n_val_docs, 1), ("prompt_len", prompt_len, 1)):
            check_int(name, v, low=lo)
        check_int("eval_batch_size", eval_batch_size, low=1, allow_none=True)
        check_int("predict_n", predict_n, low=1, allow_none=True)
        check_int("global_batch_size", global_batch_size, low=1, allow_none=True)
        check_choice("tokenizer", tokenizer, Tokenizer.__args__)
        check_int("train_stride", train_stride, low=1, allow_none=True)
        require("tokenizer", tokenizer, tokenizer == "gpt2-bpe" or dataset == "tinyshakespeare",
                f"tokenizer='char' is for dataset='tinyshakespeare', not {dataset!r}")
        require("train_stride", train_stride, train_stride is None or layout == "first-party",
                "it needs layout='first-party'")
        self.predict_n = predict_n
        require("prompt_len", prompt_len, prompt_len < seq_len, f"it must be < seq_len={seq_len}")
        self.save_hyperparameters()
        self.eval_batch_size = eval_batch_size or batch_size
        self.splits: dict[str, Dataset] = {}
        self.corpus: LatentTopicCorpus | None = None
        self.chars: CharVocab | None = None

    # ---- vocabulary --------------------------------------------------------------------------

    def char_vocab(self) -> CharVocab:
        """The character vocabulary (``tokenizer: char``): the training text's characters + BOS."""
        if self.chars is None:
            self.chars = CharVocab(_char_splits(self.hparams.dataset)["train"])
        return self.chars

    @property
    def vocab_size(self) -> int:
        """Model vocabulary: GPT-2's 50257 + BOS, the characters + BOS, or the topic vocabulary + BOS."""
        if self.hparams.tokenizer == "char":
            return len(self.char_vocab())
        return GPT2_VOCAB_SIZE if self.hparams.dataset in _TEXT else self.hparams.topic_vocab + 1

    @property
    def bos_id(self) -> int:
        if self.hparams.tokenizer == "char":
            return self.char_vocab().bos
        return BOS_ID if self.hparams.dataset in _TEXT else self.hparams.topic_vocab

    def decode(self, ids) -> str:
        """Token ids -> text (GPT-2 BPE or characters) or space-separated ``t<id>`` symbols (latent-topic)."""
        ids = [int(i) for i in ids if int(i) != self.bos_id]
        if self.hparams.tokenizer == "char":
            return self.char_vocab().decode(ids)
        if self.hparams.dataset in _TEXT:
            from .tokenizer import gpt2_tokenizer

            return gpt2_tokenizer().decode(ids)
        return " ".join(f"t{i}" for i in ids)

    # ---- lifecycle ---------------------------------------------------------------------------

    def _text_splits(self) -> tuple[str, ...]:
        return ("test",) if self.hparams.dataset == "lambada" else ("train", "validation", "test")

    def prepare_data(self) -> None:
        if self.hparams.dataset in _TEXT and self.hparams.tokenizer == "gpt2-bpe":
            for split in self._text_splits():
                tokenize_to_shard(self.hparams.dataset, split, self.hparams.cache_dir, self.hparams.layout)

    def setup(self, stage: str | None = None) -> None:
        if stage == "fit" and self._trainer_or_none() is not None:
            apply_global_batch(self.trainer, self.hparams.global_batch_size, self.hparams.batch_size)
        if self.splits:
            return
        hp = self.hparams
        if hp.dataset == "latent-topic":
            self.corpus = LatentTopicCorpus(hp.topic_vocab, hp.topic_count, hp.topic_weight, seed=hp.corpus_seed)
            for split, n, seed in (("train", hp.n_train_docs, hp.corpus_seed + 1), ("validation", hp.n_val_docs, hp.corpus_seed + 2),
                                   ("test", hp.n_val_docs, hp.corpus_seed + 3)):
                body = hp.seq_len if hp.layout == "first-party" else hp.seq_len - 1
                docs, _ = self.corpus.sample(n, body, seed)
                x = torch.cat([torch.full((n, 1), self.bos_id), torch.from_numpy(docs)], dim=1)  # (n, 1 + body)
                self.splits[split] = TokenBlocks(x)
            return
        if hp.tokenizer == "char":
            vocab, texts = self.char_vocab(), _char_splits(hp.dataset)
            for split in ("train", "validation", "test"):
                stream = vocab.encode(texts[split])
                if hp.layout == "block-bos":
                    self.splits[split] = BlockDataset(stream, hp.seq_len, vocab.bos, hp.layout)
                else:  # plain characters: nanoGPT's x, y = data[i:i+L], data[i+1:i+L+1]
                    stride = hp.train_stride if split == "train" else None
                    self.splits[split] = BlockDataset(stream, hp.seq_len, vocab.bos, hp.layout, stride=stride)
            return
        for split in self._text_splits():
            path = tokenize_to_shard(hp.dataset, split, hp.cache_dir, hp.layout)
            stride = hp.train_stride if split == "train" else None
            self.splits[split] = BlockDataset(np.memmap(path, dtype=np.uint16, mode="r"), hp.seq_len, BOS_ID, hp.layout,
                                              stride=stride)
        if hp.dataset == "lambada":  # zero-shot only: every split is the test set
            self.splits["train"] = self.splits["validation"] = self.splits["test"]

    def _trainer_or_none(self):
        return getattr(self, "trainer", None)

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        if split not in self.splits:
            self.setup()
        ds = self.splits[split]
        workers = dict(num_workers=self.hparams.num_workers, persistent_workers=self.hparams.num_workers > 0)
        if shuffle:  # resumes exactly, in mid-epoch too (the core's epoch_loader)
            return epoch_loader(ds, batch_size, seed=self.hparams.corpus_seed, trainer=self._trainer_or_none(),
                                drop_last=True, **workers)
        return DataLoader(ds, batch_size=batch_size, **workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.hparams.batch_size, True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", self.eval_batch_size, False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.hparams.test_split, self.eval_batch_size, False)

    def predict_dataloader(self) -> DataLoader:
        """``predict_n`` prompts (1, T0), one per batch: prompt lengths differ between strings."""
        hp = self.hparams
        check_int("predict_n", self.predict_n, low=1, allow_none=True)
        if hp.dataset == "latent-topic":
            n = self.predict_n or 4
            self.setup()
            docs, _ = self.corpus.sample(n, hp.prompt_len - 1, hp.corpus_seed + 4)
            x = torch.cat([torch.full((n, 1), self.bos_id), torch.from_numpy(docs)], dim=1)  # (n, prompt_len)
            return DataLoader(TokenBlocks(x, index=False), batch_size=1)
        if hp.predict_prompts and hp.tokenizer == "char":
            vocab = self.char_vocab()
            encoded = [torch.tensor([vocab.bos, *vocab.encode(p).tolist()]) for p in hp.predict_prompts]
            n = self.predict_n or len(encoded)
            prompts = [encoded[i % len(encoded)] for i in range(n)]
        elif hp.predict_prompts:
            from .tokenizer import gpt2_tokenizer

            tok = gpt2_tokenizer()
            encoded = [torch.tensor([BOS_ID, *tok.encode(p)]) for p in hp.predict_prompts]
            n = self.predict_n or len(encoded)
            prompts = [encoded[i % len(encoded)] for i in range(n)]
        else:
            prompts = [torch.tensor([self.bos_id])] * (self.predict_n or 4)
        return DataLoader(TokenBlocks(prompts, index=False), batch_size=1)
