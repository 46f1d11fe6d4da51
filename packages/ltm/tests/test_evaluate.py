"""Zero-shot evaluation: a decoder with uniform logits has PPL = vocab size under the MDLM wrapping."""

import math

import pytest
import torch

from latent_ebm.core.data import is_available
from latent_ebm.ltm import GPTModule, LTMModule
from latent_ebm.ltm.evaluate import block_scores, lambada_accuracy, zero_shot_ppl

pytestmark = pytest.mark.skipif(
    not all(is_available(d) for d in ("gpt2-bpe", "ptb", "lambada")), reason="gpt2-bpe / ptb / lambada not cached"
)
SIZE = dict(vocab_size=50258, d_model=16, n_layers=2, n_heads=2, seq_len=64)


def _uniform(module):
    torch.nn.init.zeros_(module.decoder.tok_emb.weight)  # tied head: every logit is 0
    return module


def test_zero_shot_ppl_of_uniform_gpt_is_vocab_size():
    out = zero_shot_ppl(_uniform(GPTModule(**SIZE)), "ptb", max_blocks=4)
    assert out["blocks"] == 4
    assert math.isclose(out["ppl_tokens"], 50258, rel_tol=1e-4)
    assert math.isclose(out["ppl_mean_block"], 50258, rel_tol=1e-4)


def test_ltm_elbo_ppl_bounds_the_uniform_likelihood_from_above():
    torch.manual_seed(0)
    ltm = _uniform(LTMModule(**SIZE, window=8, n_latents=2, inner_steps=2))
    blocks = torch.randint(0, 50257, (2, 64))
    few = block_scores(ltm, blocks, steps=2)["ppl_tokens"]
    many = block_scores(ltm, blocks, steps=40)["ppl_tokens"]
    assert 50258 < many < few  # KL > 0 keeps it above V; more steps shrink the KL


def test_lambada_accuracy_runs_on_context_only():
    acc = lambada_accuracy(_uniform(GPTModule(**SIZE)), max_examples=3)
    assert acc == 0.0  # uniform logits: greedy picks token 0 ("!"), never a LAMBADA word
