"""Zero-shot evaluation: a decoder with uniform logits has PPL = vocab size under either protocol;
LAMBADA accuracy counts a hit only when every token of the last word is decoded."""

import math

import pytest
import torch

from latent_ebm.core.data import is_available
from latent_ebm.ltm import GPTModule, LTMModule
from latent_ebm.ltm.corpus import lambada_examples
from latent_ebm.ltm.evaluate import block_scores, lambada_accuracy, zero_shot_ppl
from latent_ebm.ltm.tokenizer import gpt2_tokenizer

pytestmark = pytest.mark.skipif(
    not all(is_available(d) for d in ("gpt2-bpe", "ptb", "lambada")), reason="gpt2-bpe / ptb / lambada not cached"
)
SIZE = dict(vocab_size=50258, d_model=16, n_layers=2, n_heads=2, seq_len=64)


def _uniform(module):
    torch.nn.init.zeros_(module.decoder.tok_emb.weight)  # tied head: every logit is 0
    return module


@pytest.mark.parametrize("protocol", ["first-party", "mdlm"])
def test_zero_shot_ppl_of_uniform_gpt_is_vocab_size(protocol):
    out = zero_shot_ppl(_uniform(GPTModule(**SIZE)), "ptb", protocol=protocol, max_blocks=4)
    assert out["blocks"] == 4
    assert math.isclose(out["ppl_tokens"], 50258, rel_tol=1e-4)
    assert math.isclose(out["ppl_mean_block"], 50258, rel_tol=1e-4)


def test_ltm_elbo_ppl_bounds_the_uniform_likelihood_from_above():
    torch.manual_seed(0)
    ltm = _uniform(LTMModule(**SIZE, window=8, n_latents=2, fast={"steps": 2}))
    blocks = torch.randint(0, 50257, (2, 64))
    few = block_scores(ltm, blocks, steps=2)["ppl_tokens"]
    many = block_scores(ltm, blocks, steps=40)["ppl_tokens"]
    assert 50258 < many < few  # KL > 0 keeps it above V; more steps shrink the KL


def test_lambada_accuracy_runs_on_context_only():
    acc = lambada_accuracy(_uniform(GPTModule(**SIZE)), max_examples=3)
    assert acc == 0.0  # uniform logits: greedy picks token 0 ("!"), never a LAMBADA word


class _Oracle(torch.nn.Module):
    """Stands in for the decoder's greedy ``generate``: answers the first ``n`` LAMBADA examples from
    a table keyed by the last 12 context tokens, with the target on the examples in ``right`` and
    otherwise the target with its last token changed (so a multi-token word is half right)."""

    def __init__(self, n: int, right: set[int]) -> None:
        super().__init__()
        tok = gpt2_tokenizer()
        self.answers = {}
        for i, (context, word) in enumerate(lambada_examples()[:n]):
            target = tok.encode(word)
            self.answers[tuple(tok.encode(context)[-12:])] = target if i in right else [*target[:-1], (target[-1] + 1) % 50257]

    def generate(self, prompt, z, n_new, temperature=1.0, **kw):
        assert temperature == 0.0  # greedy
        answer = self.answers[tuple(prompt[0, -12:].tolist())]  # KeyError if the prompt is not the context
        assert len(answer) == n_new
        return torch.cat([prompt, torch.tensor([answer])], dim=1)


@pytest.mark.parametrize(("right", "expected"), [(set(range(8)), 1.0), ({0, 2, 4, 6}, 0.5), (set(), 0.0)])
def test_lambada_accuracy_counts_whole_word_hits(right, expected):
    # examples 5 and 7 (" Hastin", " Aidan") are two BPE tokens: a wrong last token is a miss
    assert [len(gpt2_tokenizer().encode(w)) for _, w in lambada_examples()[:8]] == [1, 1, 1, 1, 1, 2, 1, 2]
    gpt = GPTModule(**SIZE)
    gpt.decoder = _Oracle(8, right)
    assert lambada_accuracy(gpt, max_examples=8) == expected


@pytest.mark.parametrize(("args", "protocol", "split"), [([], "first-party", None), (["--protocol", "mdlm"], "mdlm", None),
                                                          (["--split", "test"], "first-party", "test")])
def test_evaluate_cli_defaults_to_the_first_party_protocol(monkeypatch, capsys, args, protocol, split):
    from latent_ebm.ltm import evaluate

    seen = []
    monkeypatch.setattr(LTMModule, "load_from_checkpoint", classmethod(lambda cls, *a, **k: "module"))
    monkeypatch.setattr(evaluate, "zero_shot_ppl", lambda m, d, **kw: seen.append((d, kw["protocol"], kw["split"])) or {})
    monkeypatch.setattr(evaluate, "lambada_accuracy", lambda m, **kw: 0.0)
    evaluate.main(["ckpt", *args])
    assert seen == [(d, protocol, split) for d in ("ptb", "wikitext-2", "lambada")]
    assert f'"protocol": "{protocol}"' in capsys.readouterr().out
