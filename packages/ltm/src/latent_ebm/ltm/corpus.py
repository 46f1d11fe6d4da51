"""Text sources: the offline latent-topic corpus, the real corpora, and zero-shot blocks (first-party
plain chunks or MDLM-style wrapping).

The latent-topic corpus is the offline fallback of the tiny/demo configs. Each document draws
one topic k ~ Uniform(K) that holds for the whole document; every token is, with probability
``topic_weight``, drawn from the topic's own sparse unigram distribution, and otherwise from a
shared first-order Markov chain. A sliding-window decoder sees only the last ``window`` tokens,
so it can only guess k from a few topic tokens; a latent z inferred from the whole sequence
can carry k to every position. That is exactly the gap LTM's latent thoughts close.
"""

from __future__ import annotations

import json
import re

import numpy as np

from latent_ebm.core.checks import check_choice, check_int, check_real

__all__ = [
    "LatentTopicCorpus",
    "chunk_blocks",
    "lambada_examples",
    "read_text_documents",
    "wrap_blocks",
]


class LatentTopicCorpus:
    """Generator of documents (1-d int arrays) with a document-level topic.

    Args:
        vocab_size: tokens 0..vocab_size-1 (no BOS/EOS; the data module adds none).
        n_topics: K, the number of document-level topics.
        topic_weight: probability that a token comes from the topic instead of the Markov chain.
        topic_support: how many tokens each topic puts its mass on.
        seed: the corpus itself (topics and chain) is a function of the seed only.
    """

    def __init__(self, vocab_size: int = 64, n_topics: int = 16, topic_weight: float = 0.5,
                 topic_support: int = 8, seed: int = 0) -> None:
        check_int("vocab_size", vocab_size, low=4)
        check_int("n_topics", n_topics, low=1)
        check_real("topic_weight", topic_weight, low=0.0, high=1.0)
        check_int("topic_support", topic_support, low=1, high=vocab_size)
        self.vocab_size, self.n_topics, self.topic_weight = vocab_size, n_topics, topic_weight
        rng = np.random.default_rng(seed)
        self.topics = np.zeros((n_topics, vocab_size))
        for k in range(n_topics):  # each topic: a random subset with Dirichlet weights
            support = rng.choice(vocab_size, size=topic_support, replace=False)
            self.topics[k, support] = rng.dirichlet(np.ones(topic_support))
        # shared Markov chain: each token has 4 likely successors
        self.chain = np.full((vocab_size, vocab_size), 0.02 / vocab_size)
        for a in range(vocab_size):
            self.chain[a, rng.choice(vocab_size, size=4, replace=False)] += 0.98 / 4
        self.chain /= self.chain.sum(1, keepdims=True)

    def document(self, length: int, rng: np.random.Generator, topic: int | None = None) -> tuple[np.ndarray, int]:
        """One document of ``length`` tokens and its topic."""
        k = int(rng.integers(self.n_topics)) if topic is None else topic
        from_topic = rng.random(length) < self.topic_weight
        topic_draws = rng.choice(self.vocab_size, size=length, p=self.topics[k])
        u = rng.random(length)
        cum = np.cumsum(self.chain, axis=1)
        out = np.empty(length, dtype=np.int64)
        prev = int(rng.integers(self.vocab_size))
        for i in range(length):
            tok = topic_draws[i] if from_topic[i] else min(int(np.searchsorted(cum[prev], u[i])), self.vocab_size - 1)
            out[i] = prev = tok
        return out, k

    def sample(self, n_docs: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(n_docs, length) int array and (n_docs,) topics, reproducible from ``seed``."""
        rng = np.random.default_rng(seed)
        docs, topics = zip(*(self.document(length, rng) for _ in range(n_docs)))
        return np.stack(docs), np.asarray(topics)


# ---- real corpora ------------------------------------------------------------------------------

def _wikitext_detok(s: str) -> str:
    """WikiText 'tokens' version back to plain text (the usual MDLM/Megatron-style rules)."""
    s = s.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".")
    s = s.replace(" : ", ": ").replace(" ; ", "; ").replace(" . ", ". ").replace(" ! ", "! ")
    s = s.replace(" ? ", "? ").replace(" , ", ", ")
    s = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", s)
    s = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", s)
    s = re.sub(r'"\s*([^"]*?)\s*"', r'"\1"', s)
    s = s.replace("= = = =", "====").replace("= = =", "===").replace("= =", "==")
    s = s.replace(" 's", "'s").replace(" n't", "n't")
    return s


def _ptb_detok(s: str) -> str:
    s = s.replace(" 's", "'s").replace("s ' ", "s' ").replace(" n't", "n't").replace(" \n ", "\n")
    s = s.replace("\\/", "/").replace("$ ", "$").replace(" %", "%")
    return s.replace("<unk>", "?").replace(" N ", " 1 ")


_FILES = {
    "wikitext-2": {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"},
    "ptb": {"train": "ptb.train.txt", "validation": "ptb.valid.txt", "test": "ptb.test.txt"},
    "tinyshakespeare": {"train": "input.txt", "validation": "input.txt", "test": "input.txt"},
    "lambada": {"test": "lambada_test.jsonl", "validation": "lambada_test.jsonl"},
}


def read_text_documents(dataset: str, split: str, *, detokenize: bool = True) -> list[str]:
    """Documents (strings) of a registry dataset's split, read through ``get_file``.

    WikiText-2 is split into articles at top-level `` = Title = `` headings; PTB and
    TinyShakespeare are one document per file (TinyShakespeare's splits are 90/5/5 % of the
    text by characters); LAMBADA has one passage per line.
    """
    from latent_ebm.core.data import get_file

    check_choice("dataset", dataset, _FILES)
    check_choice("split", split, _FILES[dataset])
    files = _FILES[dataset]
    text = get_file(dataset, files[split]).read_text(encoding="utf-8")
    if dataset == "lambada":
        return [json.loads(line)["text"] for line in text.splitlines() if line.strip()]
    if dataset == "tinyshakespeare":
        n = len(text)
        a, b = int(0.9 * n), int(0.95 * n)
        return [{"train": text[:a], "validation": text[a:b], "test": text[b:]}[split]]
    if dataset == "ptb":
        return [_ptb_detok(text) if detokenize else text]
    docs, cur = [], []
    for line in text.splitlines(keepends=True):  # wikitext-2: articles start at ' = Title = '
        if re.match(r"^ = [^=].* = \n$", line) and cur:
            docs.append("".join(cur))
            cur = []
        cur.append(line)
    if cur:
        docs.append("".join(cur))
    return [_wikitext_detok(d) if detokenize else d for d in docs]


def lambada_examples() -> list[tuple[str, str]]:
    """LAMBADA (context, last word) pairs; the target is the final whitespace-separated word."""
    out = []
    for text in read_text_documents("lambada", "test"):
        context, word = text.rsplit(" ", 1)
        out.append((context, " " + word))
    return out


def _eos_joined(docs: list[list[int]], eos: int) -> np.ndarray:
    """``d1 EOS d2 EOS ...`` as one int64 stream."""
    return np.fromiter((t for d in docs for t in (*d, eos)), dtype=np.int64)


def chunk_blocks(docs: list[list[int]], block: int, eos: int) -> np.ndarray:
    """The first-party zero-shot blocks (``group_texts`` in ``sampling/zero-shot-ppl/
    utils_ppl_0shot_update.py``, first-party commit 8ce9503): docs joined as ``d1 EOS d2 EOS ...``
    and cut into plain consecutive chunks of ``block`` tokens -> (n_blocks, block), no BOS and no
    added EOS; the last partial chunk is dropped. Scoring predicts ``block - 1`` tokens of each
    (the first-party ``x[:, :-1] -> x[:, 1:]``).
    """
    check_int("block", block, low=2)  # at least one predicted token
    stream = _eos_joined(docs, eos)
    n = len(stream) // block
    return stream[: n * block].reshape(n, block)


def wrap_blocks(docs: list[list[int]], block: int, bos: int, eos: int) -> np.ndarray:
    """MDLM's wrapping (``_group_texts`` of kuleshov-group/mdlm; defined but not called by the
    first-party zero-shot scripts, which use :func:`chunk_blocks`): docs joined as ``d1 EOS d2 EOS ...``, cut into bodies of ``block - 2`` tokens, each
    becoming ``[BOS] + body + [EOS]`` -> (n_blocks, block). The last partial body is dropped.

    A block therefore ends in EOS even where it cuts a document in two, and a document's own EOS
    may also sit inside a body. (MDLM drops the remainder per ``datasets.map`` batch of
    documents; here the whole split is one stream, so at most one partial body is lost.)
    """
    check_int("block", block, low=3)  # BOS + body + EOS
    body_len = block - 2
    stream = _eos_joined(docs, eos)
    n = len(stream) // body_len
    body = stream[: n * body_len].reshape(n, body_len)
    return np.concatenate([np.full((n, 1), bos, dtype=np.int64), body, np.full((n, 1), eos, dtype=np.int64)], axis=1)
