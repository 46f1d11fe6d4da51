"""Data: GPT-2 BPE from the registry, memmap shards, zero-shot blocks (first-party chunks, MDLM
wrapping), the latent-topic corpus."""

import numpy as np
import pytest
import torch

from latent_ebm.core.data import is_available
from latent_ebm.ltm import LTMDataModule, evaluate
from latent_ebm.ltm.corpus import LatentTopicCorpus, chunk_blocks, wrap_blocks
from latent_ebm.ltm.data import tokenize_to_shard
from latent_ebm.ltm.tokenizer import BOS_ID, EOS_ID

needs_bpe = pytest.mark.skipif(not is_available("gpt2-bpe"), reason="gpt2-bpe files not in LATENT_EBM_DATA_DIR")


@needs_bpe
def test_gpt2_tokenizer_known_ids_and_roundtrip():
    from latent_ebm.ltm.tokenizer import gpt2_tokenizer

    tok = gpt2_tokenizer()
    assert tok.encode("Hello world") == [15496, 995]  # GPT-2's published ids
    text = "Latent thoughts, 1024 tokens\n and BPE."
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode([EOS_ID]) == "<|endoftext|>"


def test_wrap_blocks_layout_is_mdlms():
    """MDLM's _group_texts: BOS + (block - 2) tokens of the EOS-joined stream + EOS."""
    blocks = wrap_blocks([[1, 2, 3], [4, 5]], block=4, bos=9, eos=0)
    # stream 1 2 3 0 4 5 0 -> bodies [1 2] [3 0] [4 5], the trailing [0] dropped
    np.testing.assert_array_equal(blocks, [[9, 1, 2, 0], [9, 3, 0, 0], [9, 4, 5, 0]])
    assert wrap_blocks([[1, 2, 3, 4, 5, 6]], block=8, bos=9, eos=0).tolist() == [[9, 1, 2, 3, 4, 5, 6, 0]]
    assert wrap_blocks([[1, 2]], block=8, bos=9, eos=0).shape == (0, 8)  # shorter than one body
    with pytest.raises(ValueError, match="^block=2 is not allowed"):
        wrap_blocks([[1, 2, 3]], block=2, bos=9, eos=0)


def test_chunk_blocks_are_the_first_party_plain_chunks():
    """First-party group_texts: consecutive block-token chunks of the EOS-joined stream, no BOS."""
    blocks = chunk_blocks([[1, 2, 3], [4, 5]], block=3, eos=0)
    # stream 1 2 3 0 4 5 0 -> [1 2 3] [0 4 5], the trailing [0] dropped
    np.testing.assert_array_equal(blocks, [[1, 2, 3], [0, 4, 5]])
    assert chunk_blocks([[1, 2]], block=4, eos=0).shape == (0, 4)  # shorter than one block
    with pytest.raises(ValueError, match="^block=1 is not allowed"):
        chunk_blocks([[1, 2, 3]], block=1, eos=0)


class _ByteTokenizer:
    """Stands in for GPT-2 BPE: one token per character (its code point)."""

    def encode_batch(self, docs):
        return [[ord(c) for c in d] for d in docs]


@pytest.fixture
def tiny_splits(monkeypatch):
    """A registry corpus stand-in: split -> documents, with a character tokenizer."""
    docs = {"validation": ["abcdefg", "hij", "klmnopqrs"], "test": ["ABCDEFGHIJ", "KLM"]}
    read = []
    monkeypatch.setattr(evaluate, "read_text_documents", lambda dataset, split: read.append(split) or docs[split])
    monkeypatch.setattr(evaluate, "gpt2_tokenizer", _ByteTokenizer)
    stream = {k: [t for d in v for t in (*map(ord, d), EOS_ID)] for k, v in docs.items()}
    return stream, read


def test_first_party_zero_shot_blocks_chunk_the_validation_stream(tiny_splits):
    stream, read = tiny_splits
    blocks = evaluate.zero_shot_blocks("ptb", 5)  # the default protocol
    assert read == ["validation"] and blocks.shape == (len(stream["validation"]) // 5, 5)
    assert (blocks != BOS_ID).all()  # no BOS anywhere
    flat = blocks.reshape(-1).tolist()
    assert flat == stream["validation"][: len(flat)]  # plain consecutive chunks, no EOS added
    assert blocks[0].tolist() == [ord(c) for c in "abcde"] and blocks[1, 2].item() == EOS_ID  # a doc's own EOS only


def test_mdlm_zero_shot_blocks_wrap_the_test_stream(tiny_splits):
    stream, read = tiny_splits
    blocks = evaluate.zero_shot_blocks("ptb", 5, protocol="mdlm")
    assert read == ["test"] and blocks.shape == (len(stream["test"]) // 3, 5)
    assert (blocks[:, 0] == BOS_ID).all() and (blocks[:, -1] == EOS_ID).all()
    assert blocks[:, 1:-1].reshape(-1).tolist() == stream["test"][: 3 * len(blocks)]
    assert evaluate.zero_shot_blocks("ptb", 5, protocol="mdlm", split="validation").shape[1] == 5
    assert read[-1] == "validation"  # an explicit split overrides the protocol's
    with pytest.raises(ValueError, match="^protocol='sedd' is not allowed"):
        evaluate.zero_shot_blocks("ptb", 5, protocol="sedd")


@pytest.mark.skipif(not (is_available("gpt2-bpe") and is_available("ptb")), reason="ptb / gpt2-bpe not cached")
@pytest.mark.parametrize("protocol", ["first-party", "mdlm"])
def test_zero_shot_blocks_tile_the_ptb_stream(tmp_path, protocol):
    blocks = evaluate.zero_shot_blocks("ptb", 1024, protocol)
    split = evaluate.ZERO_SHOT_SPLIT[protocol]
    stream = np.memmap(tokenize_to_shard("ptb", split, tmp_path), dtype=np.uint16, mode="r")  # docs + EOS each
    if protocol == "first-party":  # plain 1024-token chunks of the validation stream
        assert blocks.shape == (len(stream) // 1024, 1024) and (blocks[:, 0] != BOS_ID).all()
        body = blocks.reshape(-1).numpy()
    else:  # MDLM: BOS + 1022 tokens of the test stream + EOS
        assert blocks.shape == (len(stream) // 1022, 1024)
        assert (blocks[:, 0] == BOS_ID).all() and (blocks[:, -1] == EOS_ID).all()
        body = blocks[:, 1:-1].reshape(-1).numpy()
    np.testing.assert_array_equal(body, stream[: len(body)])  # blocks tile the stream, nothing skipped


@pytest.mark.skipif(not (is_available("gpt2-bpe") and is_available("ptb")), reason="ptb / gpt2-bpe not cached")
def test_ptb_shard_is_tokenized_once_into_uint16_blocks(tmp_path):
    path = tokenize_to_shard("ptb", "test", tmp_path)
    stamp = path.stat().st_mtime_ns
    assert tokenize_to_shard("ptb", "test", tmp_path).stat().st_mtime_ns == stamp  # cached, not rewritten
    stream = np.memmap(path, dtype=np.uint16, mode="r")
    assert 80_000 < len(stream) < 200_000 and stream[-1] == EOS_ID
    dm = LTMDataModule(dataset="ptb", seq_len=128, batch_size=4, cache_dir=str(tmp_path))
    dm.prepare_data()
    dm.setup()
    batch = next(iter(dm.test_dataloader()))
    x = batch["x"]
    assert batch["index"].tolist() == [0, 1, 2, 3]
    assert x.shape == (4, 128) and (x[:, 0] == BOS_ID).all() and x.max() < dm.vocab_size
    torch.testing.assert_close(x[0, 1:], torch.from_numpy(stream[:127].astype(np.int64)))


@pytest.fixture
def tiny_corpus(monkeypatch):
    """A text corpus of three short documents per split, tokenised one token per character."""
    import latent_ebm.ltm.tokenizer as tokenizer

    docs = ["abcde", "fg", "hijklm"]
    monkeypatch.setattr("latent_ebm.ltm.data.read_text_documents", lambda dataset, split: docs)
    monkeypatch.setattr(tokenizer, "gpt2_tokenizer", _ByteTokenizer)
    return [[ord(c) for c in d] for d in docs]


def test_first_party_layout_puts_bos_at_document_starts_and_predicts_seq_len(tiny_corpus, tmp_path):
    """First-party owt.py: shard = (BOS + doc + EOS)*, example i = stream[i*L : i*L + L + 1]."""
    stream = [t for d in tiny_corpus for t in (BOS_ID, *d, EOS_ID)]  # 19 tokens
    dm = LTMDataModule(dataset="ptb", seq_len=4, batch_size=2, prompt_len=2, layout="first-party", cache_dir=str(tmp_path))
    dm.setup()
    shard = np.fromfile(tmp_path / "gpt2-bos-docs" / "ptb" / "train.bin", dtype=np.uint16)
    assert shard.tolist() == stream
    train = dm.splits["train"]
    assert len(train) == (19 - 1) // 4  # whole 5-token windows only
    for i in range(len(train)):
        assert train[i]["x"].tolist() == stream[4 * i : 4 * i + 5]  # L+1 tokens, L predicted
    assert train[0]["x"][0] == BOS_ID  # BOS where a document starts, wherever that falls:
    assert train[1]["x"].tolist() == [ord("d"), ord("e"), EOS_ID, BOS_ID, ord("f")]  # not at the window's start


def test_block_bos_layout_is_unchanged_and_never_shares_the_first_party_cache(tiny_corpus, tmp_path):
    stream = [t for d in tiny_corpus for t in (*d, EOS_ID)]  # 16 tokens
    first = tokenize_to_shard("ptb", "train", tmp_path, "first-party")
    dm = LTMDataModule(dataset="ptb", seq_len=4, batch_size=2, prompt_len=2, cache_dir=str(tmp_path))  # default: block-bos
    dm.setup()
    block = tokenize_to_shard("ptb", "train", tmp_path)
    assert block == tmp_path / "gpt2" / "ptb" / "train.bin" and block != first  # one shard per layout
    assert np.fromfile(block, dtype=np.uint16).tolist() == stream
    train = dm.splits["train"]
    assert len(train) == 16 // 3 and [train[i]["x"].tolist() for i in range(2)] == [[BOS_ID, *stream[:3]], [BOS_ID, *stream[3:6]]]
    with pytest.raises(ValueError, match="^layout='bos' is not allowed"):
        LTMDataModule(dataset="ptb", layout="bos")
    with pytest.raises(ValueError, match="^layout='bos' is not allowed"):
        tokenize_to_shard("ptb", "train", tmp_path, "bos")


@pytest.mark.parametrize(("layout", "width"), [("block-bos", 16), ("first-party", 17)])
def test_latent_topic_layouts_feed_the_decoder_seq_len_tokens(layout, width):
    from latent_ebm.ltm import GPTModule

    dm = LTMDataModule(seq_len=16, batch_size=2, n_train_docs=4, n_val_docs=2, prompt_len=4, layout=layout)
    dm.setup()
    x = next(iter(dm.train_dataloader()))["x"]
    assert x.shape == (2, width) and (x[:, 0] == dm.bos_id).all()
    gpt = GPTModule(vocab_size=dm.vocab_size, d_model=8, n_layers=1, n_heads=1, seq_len=16)
    assert gpt.token_nll(x, None).shape == (2, width - 1)  # first-party: all 16 context positions predict


def test_latent_topic_corpus_is_reproducible():
    c = LatentTopicCorpus(seed=3)
    a, ta = c.sample(8, 40, seed=1)
    b, tb = LatentTopicCorpus(seed=3).sample(8, 40, seed=1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ta, tb)
    assert a.min() >= 0 and a.max() < 64


def test_topic_is_visible_to_the_whole_document_but_not_to_a_short_window():
    """Bayes topic classifier (true model): near-perfect from 63 tokens, poor from 2 tokens."""
    c = LatentTopicCorpus(vocab_size=64, n_topics=16, topic_weight=0.5, seed=0)
    docs, topics = c.sample(300, 63, seed=5)

    def accuracy(n_tokens):
        hits = 0
        for doc, k in zip(docs, topics):
            cur, prev = doc[1:n_tokens], doc[: n_tokens - 1]
            p = c.topic_weight * c.topics[:, cur] + (1 - c.topic_weight) * c.chain[prev, cur][None]  # (K, n-1)
            loglik = np.log(p).sum(1)
            hits += int(np.argmax(loglik) == k)
        return hits / len(docs)

    assert accuracy(63) > 0.9
    assert accuracy(3) < 0.6


def test_datamodule_latent_topic_batches_and_bad_args():
    dm = LTMDataModule(seq_len=32, batch_size=4, n_train_docs=16, n_val_docs=8)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    x, index = batch["x"], batch["index"]
    assert x.shape == (4, 32) and (x[:, 0] == dm.bos_id).all() and dm.vocab_size == 65
    assert index.shape == (4,) and torch.equal(x, torch.stack([dm.splits["train"][int(i)]["x"] for i in index]))
    prompt = next(iter(dm.predict_dataloader()))
    assert set(prompt) == {"x"} and prompt["x"].shape == (1, dm.hparams.prompt_len)
    with pytest.raises(ValueError, match="^dataset="):
        LTMDataModule(dataset="imdb")
    with pytest.raises(ValueError, match="^seq_len="):
        LTMDataModule(seq_len=1)
    with pytest.raises(ValueError, match="^prompt_len="):
        LTMDataModule(seq_len=16, prompt_len=16)


def test_char_vocab_roundtrip_and_unknown_characters():
    from latent_ebm.ltm.data import CharVocab

    v = CharVocab("hello, world")
    assert v.chars == sorted(set("hello, world")) and len(v) == len(v.chars) + 1 and v.bos == len(v.chars)
    ids = v.encode("low, dew")
    assert ids.dtype == np.uint16 and v.decode(ids.tolist() + [v.bos]) == "low, dew"  # BOS decodes to nothing
    with pytest.raises(ValueError, match="not in the training text"):
        v.encode("xyz")


def test_block_dataset_stride_one_is_every_offset():
    from latent_ebm.ltm.data import BlockDataset

    stream = np.arange(20, dtype=np.uint16)
    ds = BlockDataset(stream, seq_len=4, bos=99, layout="first-party", stride=1)
    assert len(ds) == 20 - 4  # windows of 5 at offsets 0..15
    assert ds[0]["x"].tolist() == [0, 1, 2, 3, 4] and ds[15]["x"].tolist() == [15, 16, 17, 18, 19]
    assert len(BlockDataset(stream, 4, 99, "first-party")) == (20 - 1) // 4  # the default stride: unchanged
    with pytest.raises(ValueError, match="stride"):
        BlockDataset(stream, 4, 99, "block-bos", stride=1)


@pytest.mark.skipif(not is_available("tinyshakespeare"), reason="tinyshakespeare not in LATENT_EBM_DATA_DIR")
def test_char_tinyshakespeare_is_nanogpts_shakespeare_char():
    """nanoGPT data/shakespeare_char/prepare.py: 65 sorted characters, first 90 % train, last 10 % val;
    train.py get_batch: x = data[i:i+L], y = data[i+1:i+L+1]."""
    from latent_ebm.core.data import get_file

    text = get_file("tinyshakespeare", "input.txt").read_text(encoding="utf-8")
    cut = int(0.9 * len(text))
    dm = LTMDataModule(dataset="tinyshakespeare", tokenizer="char", layout="first-party", seq_len=64, batch_size=3,
                       train_stride=1)
    dm.setup()
    assert dm.vocab_size == 66 and dm.bos_id == 65  # 65 characters + BOS
    train, val = dm.splits["train"], dm.splits["validation"]
    assert len(train) == cut - 64 and len(val) == (len(text) - cut - 1) // 64
    assert dm.decode(train[0]["x"].tolist()) == text[:65] and dm.decode(train[7]["x"].tolist()) == text[7:72]
    assert dm.decode(val[1]["x"].tolist()) == text[cut + 64 : cut + 129]  # validation windows 64 apart
    assert dm.splits["test"] is not val and len(dm.splits["test"]) == len(val)  # test = validation text
    assert next(iter(dm.train_dataloader()))["x"].shape == (3, 65)
    dm = LTMDataModule(dataset="tinyshakespeare", tokenizer="char", seq_len=8, batch_size=2, prompt_len=4,
                       predict_prompts=["ROMEO:"])
    dm.setup()
    assert dm.splits["train"][0]["x"][0] == 65 and dm.decode(dm.splits["train"][0]["x"].tolist()) == text[:7]
    (prompt,) = [b["x"] for b in dm.predict_dataloader()]
    assert prompt[0, 0] == 65 and dm.decode(prompt[0].tolist()) == "ROMEO:"


def test_char_tokenizer_bad_settings_are_one_line_errors():
    with pytest.raises(ValueError, match="tokenizer"):
        LTMDataModule(dataset="wikitext-2", tokenizer="char")
    with pytest.raises(ValueError, match="tokenizer"):
        LTMDataModule(dataset="tinyshakespeare", tokenizer="bytes")
    with pytest.raises(ValueError, match="train_stride"):
        LTMDataModule(dataset="tinyshakespeare", tokenizer="char", train_stride=1)  # block-bos has no stride
