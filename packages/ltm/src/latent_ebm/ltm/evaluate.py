"""Zero-shot evaluation (first-party ``sampling/zero-shot-ppl``) and LAMBADA accuracy.

Two block protocols (``protocol=``): ``first-party`` (default, the paper comparison) cuts plain
``seq_len``-token chunks of the EOS-joined documents of the validation split, as the first-party
scripts do (``sample_owt_0shot.py`` reads PTB, WikiText-2 and LAMBADA with ``mode='validation'``);
``mdlm`` wraps each block as ``[BOS] + seq_len-2 tokens + [EOS]`` from the test split (MDLM's
``_group_texts``, which the first-party scripts define but do not call).

Works with both :class:`~latent_ebm.ltm.LTMModule` (ELBO-PPL, inner loop on each block) and
:class:`~latent_ebm.ltm.GPTModule` (exact PPL). ``python -m latent_ebm.ltm.evaluate CKPT`` prints
the table for PTB / WikiText-2 / LAMBADA.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Literal

import torch
from torch import Tensor

from latent_ebm.core.checks import check_choice

from .corpus import chunk_blocks, lambada_examples, read_text_documents, wrap_blocks
from .model import LTMModule
from .tokenizer import BOS_ID, EOS_ID, gpt2_tokenizer

__all__ = ["ZERO_SHOT_SPLIT", "ZeroShotProtocol", "block_scores", "lambada_accuracy", "zero_shot_blocks", "zero_shot_ppl"]

ZeroShotProtocol = Literal["first-party", "mdlm"]
ZERO_SHOT_SPLIT = {"first-party": "validation", "mdlm": "test"}  # the split each protocol reads


def block_scores(module, blocks: Tensor, *, batch_size: int = 8, steps: int | None = None) -> dict[str, float]:
    """Bound on -log p per block (B,) -> mean per-block PPL (the paper's average) and token-level PPL.

    ``blocks`` (n, T) token ids. LTM: the ELBO-PPL exp((NLL + KL) / N) >= PPL, q fitted with
    ``steps`` inner steps on each block (default: ``fast.eval_steps``). GPT: exp(NLL / N).
    """
    module.eval()
    per_block = []
    for i in range(0, len(blocks), batch_size):
        x = blocks[i : i + batch_size].to(module.device)
        if isinstance(module, LTMModule):
            local = module.fit_local(x, module.fast.eval_steps_or_steps if steps is None else steps)
            with torch.no_grad():
                nll, kl = module.elbo_terms(x, local)
            per_block.append(nll + kl)
        else:
            with torch.no_grad():
                per_block.append(module.token_nll(x, None).sum(1))
    bound = torch.cat(per_block).double()
    n = blocks.shape[1] - 1
    return {"ppl_mean_block": float((bound / n).exp().mean()), "ppl_tokens": math.exp(float(bound.sum() / (n * len(bound)))),
            "blocks": len(bound)}


def zero_shot_blocks(dataset: str, seq_len: int, protocol: ZeroShotProtocol = "first-party",
                     split: str | None = None) -> Tensor:
    """(n_blocks, seq_len) zero-shot blocks of a registry corpus (detokenised documents, GPT-2 BPE,
    EOS after each document, joined into one stream).

    ``first-party``: plain consecutive ``seq_len``-token chunks of the stream, no BOS
    (:func:`~latent_ebm.ltm.corpus.chunk_blocks`); ``mdlm``: ``[BOS] + seq_len-2 tokens + [EOS]``
    (:func:`~latent_ebm.ltm.corpus.wrap_blocks`). ``split``: None reads the protocol's own split
    (:data:`ZERO_SHOT_SPLIT`: validation for first-party, test for mdlm; LAMBADA has one split).
    """
    check_choice("protocol", protocol, ZERO_SHOT_SPLIT)
    docs = gpt2_tokenizer().encode_batch(read_text_documents(dataset, split or ZERO_SHOT_SPLIT[protocol]))
    if protocol == "first-party":
        return torch.from_numpy(chunk_blocks(docs, seq_len, EOS_ID))
    return torch.from_numpy(wrap_blocks(docs, seq_len, BOS_ID, EOS_ID))


def zero_shot_ppl(module, dataset: str, *, protocol: ZeroShotProtocol = "first-party", split: str | None = None,
                  seq_len: int | None = None, max_blocks: int | None = None, batch_size: int = 8,
                  steps: int | None = None) -> dict[str, float]:
    """Zero-shot PPL on a registry corpus (:func:`zero_shot_blocks`); every token after a block's
    first is scored (first-party: seq_len - 1 tokens, its ``x[:, :-1] -> x[:, 1:]``; mdlm: every
    token after BOS, the block-final EOS included)."""
    blocks = zero_shot_blocks(dataset, seq_len or module.hparams.seq_len, protocol, split)
    if max_blocks is not None:
        blocks = blocks[:max_blocks]
    return block_scores(module, blocks, batch_size=batch_size, steps=steps)


def lambada_accuracy(module, *, max_examples: int | None = None, steps: int | None = None) -> float:
    """LAMBADA last-word accuracy: greedy decoding of every token of the final word must match.

    LTM infers z from the context only (the target word is never seen by the inner loop).
    """
    tok = gpt2_tokenizer()
    module.eval()
    hits = total = 0
    for context, word in lambada_examples()[:max_examples]:
        prompt = torch.tensor([[BOS_ID, *tok.encode(context)]], device=module.device)
        target = tok.encode(word)
        prompt = prompt[:, -(module.hparams.seq_len - len(target)) :]
        z = module.infer_z(prompt, steps) if isinstance(module, LTMModule) else None
        out = module.decoder.generate(prompt, z, len(target), temperature=0.0)
        hits += int(out[0, prompt.shape[1] :].tolist() == target)
        total += 1
    return hits / max(total, 1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("checkpoint")
    p.add_argument("--model", choices=["ltm", "gpt"], default="ltm")
    p.add_argument("--max-blocks", type=int, default=None)
    p.add_argument("--lambada-examples", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="eval inner steps (LTM)")
    p.add_argument("--protocol", choices=list(ZERO_SHOT_SPLIT), default="first-party",
                   help="zero-shot blocks: first-party (plain chunks, validation split; the paper's) or mdlm "
                        "(BOS + seq_len-2 + EOS, test split)")
    p.add_argument("--split", choices=["validation", "test"], default=None,
                   help="override the protocol's split (first-party: validation, mdlm: test)")
    a = p.parse_args(argv)
    from .model import GPTModule

    cls = LTMModule if a.model == "ltm" else GPTModule
    module = cls.load_from_checkpoint(a.checkpoint, map_location="cpu", weights_only=True)
    out = {d: zero_shot_ppl(module, d, protocol=a.protocol, split=a.split, max_blocks=a.max_blocks, steps=a.steps)
           for d in ("ptb", "wikitext-2", "lambada")}
    out["protocol"] = a.protocol
    out["lambada_acc"] = lambada_accuracy(module, max_examples=a.lambada_examples, steps=a.steps)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
