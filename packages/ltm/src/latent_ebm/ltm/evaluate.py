"""Zero-shot evaluation (first-party ``sampling/zero-shot-ppl``, MDLM protocol) and LAMBADA accuracy.

Works with both :class:`~latent_ebm.ltm.LTMModule` (ELBO-PPL, inner loop on each block) and
:class:`~latent_ebm.ltm.GPTModule` (exact PPL). ``python -m latent_ebm.ltm.evaluate CKPT`` prints
the table for PTB / WikiText-2 / LAMBADA.
"""

from __future__ import annotations

import argparse
import json
import math

import torch
from torch import Tensor

from .corpus import lambada_examples, read_text_documents, wrap_blocks
from .model import LTMModule
from .tokenizer import BOS_ID, EOS_ID, gpt2_tokenizer

__all__ = ["block_scores", "lambada_accuracy", "zero_shot_blocks", "zero_shot_ppl"]


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


def zero_shot_blocks(dataset: str, seq_len: int) -> Tensor:
    """(n_blocks, seq_len) MDLM-wrapped blocks ``[BOS] + seq_len-2 tokens + [EOS]`` of a registry
    corpus's test split (detokenised documents, GPT-2 BPE, EOS after each document)."""
    docs = gpt2_tokenizer().encode_batch(read_text_documents(dataset, "test"))
    return torch.from_numpy(wrap_blocks(docs, seq_len, BOS_ID, EOS_ID))


def zero_shot_ppl(module, dataset: str, *, seq_len: int | None = None, max_blocks: int | None = None,
                  batch_size: int = 8, steps: int | None = None) -> dict[str, float]:
    """MDLM-protocol zero-shot PPL on a registry corpus's test split (:func:`zero_shot_blocks`);
    every token after BOS is scored, the block-final EOS included."""
    blocks = zero_shot_blocks(dataset, seq_len or module.hparams.seq_len)
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
    a = p.parse_args(argv)
    from .model import GPTModule

    cls = LTMModule if a.model == "ltm" else GPTModule
    module = cls.load_from_checkpoint(a.checkpoint, map_location="cpu", weights_only=True)
    out = {d: zero_shot_ppl(module, d, max_blocks=a.max_blocks, steps=a.steps) for d in ("ptb", "wikitext-2", "lambada")}
    out["lambada_acc"] = lambada_accuracy(module, max_examples=a.lambada_examples, steps=a.steps)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
