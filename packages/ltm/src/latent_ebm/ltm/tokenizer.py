"""GPT-2 byte-level BPE (50257 tokens) plus one BOS token (id 50257), as in the LTM code.

The vocabulary and merges come from the registry (dataset ``gpt2-bpe``: ``encoder.json`` and
``vocab.bpe``) and are loaded by the ``tokenizers`` library; nothing is hand-written here.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["BOS_ID", "EOS_ID", "GPT2_VOCAB_SIZE", "Gpt2Tokenizer", "gpt2_tokenizer"]

EOS_ID = 50256  # <|endoftext|>
BOS_ID = 50257  # added by LTM (first-party config: vocab 50258)
GPT2_VOCAB_SIZE = 50258


class Gpt2Tokenizer:
    """``encode(text) -> list[int]``, ``encode_batch(texts)``, ``decode(ids) -> str``."""

    bos_id = BOS_ID
    eos_id = EOS_ID
    vocab_size = GPT2_VOCAB_SIZE

    def __init__(self, vocab_json: str, merges_txt: str) -> None:
        from tokenizers import ByteLevelBPETokenizer

        self._tok = ByteLevelBPETokenizer(vocab_json, merges_txt, add_prefix_space=False)

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self._tok.encode_batch(texts)]

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids if int(i) < BOS_ID]
        return self._tok.decode(ids, skip_special_tokens=False)


@lru_cache(maxsize=1)
def gpt2_tokenizer() -> Gpt2Tokenizer:
    """The GPT-2 tokenizer from the registry (downloads ``gpt2-bpe`` when it is missing)."""
    from latent_ebm.core.data import get_file

    return Gpt2Tokenizer(str(get_file("gpt2-bpe", "encoder.json")), str(get_file("gpt2-bpe", "vocab.bpe")))
