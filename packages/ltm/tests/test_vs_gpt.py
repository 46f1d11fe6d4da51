"""LTM vs the same-size windowed GPT on the latent-topic corpus, after the same number of steps.

The corpus has a document-level topic that a window of one token cannot see but z can; LTM's
ELBO-PPL (an upper bound on its PPL, KL included) must beat the windowed GPT's exact PPL.
"""

import lightning as L
import pytest
import torch

from latent_ebm.ltm import GPTModule, LTMDataModule, LTMModule

SEQ, STEPS = 192, 120
SIZE = dict(vocab_size=5 + 60, d_model=32, n_layers=2, n_heads=2, seq_len=SEQ, window=1,
            optim={"lr": 1e-2, "warmup_steps": 20})  # the cosine ends at the Trainer's max_steps=STEPS


def _train_and_validate(model):
    L.seed_everything(0)
    dm = LTMDataModule(seq_len=SEQ, batch_size=16, n_train_docs=2048, n_val_docs=64, topic_count=4, topic_weight=0.9)
    trainer = L.Trainer(max_steps=STEPS, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, inference_mode=False, limit_val_batches=4,
                        val_check_interval=STEPS, check_val_every_n_epoch=None)
    trainer.fit(model, dm)
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


@pytest.mark.slow
def test_tiny_ltm_beats_windowed_gpt_on_latent_topic_corpus():
    torch.manual_seed(0)
    gpt = _train_and_validate(GPTModule(**SIZE))
    torch.manual_seed(0)
    ltm = _train_and_validate(LTMModule(**SIZE, n_latents=2, fast={"steps": 4, "init_logvar": 0.0}))
    assert ltm["val/elbo_ppl"] < 0.95 * gpt["val/ppl"], (ltm, gpt)
    assert ltm["val/prefix_ppl"] < gpt["val/prefix_ppl"], (ltm, gpt)
