"""LTM / GPT modules: generation with the KV cache, the baseline's size, the ELBO of a z-blind decoder.
(Bad settings: ``test_contract.py``.)"""

import torch

from latent_ebm.ltm import GPTModule, LTMModule

SMALL = dict(vocab_size=17, d_model=16, n_layers=2, n_heads=2, seq_len=24)


def test_kv_cache_generation_equals_full_recomputation():
    torch.manual_seed(0)
    model = LTMModule(**SMALL, window=4, n_latents=4, fast={"steps": 3}, max_new_tokens=12, temperature=0.0).eval()
    prompt = torch.randint(0, 17, (3, 6))
    z = model.infer_z(prompt)
    out = model.decoder.generate(prompt, z, 12, temperature=0.0)
    ref = prompt
    with torch.no_grad():
        for _ in range(12):  # recompute the whole sequence every step, no cache
            nxt = model.decoder(ref, z)[:, -1].argmax(-1, keepdim=True)
            ref = torch.cat([ref, nxt], 1)
    assert torch.equal(out, ref)


def test_predict_step_uses_prompt_and_respects_context():
    torch.manual_seed(0)
    model = LTMModule(**SMALL, window=4, n_latents=4, fast={"steps": 2}, max_new_tokens=100, temperature=0.0)
    prompt = torch.randint(0, 17, (1, 10))
    out = model.predict_step({"x": prompt}, 0)
    assert torch.equal(out["prompt"], prompt) and out["continuation"].shape == (1, 14)  # up to the context, 24


def test_gpt_baseline_is_same_decoder_without_cross_attention():
    ltm = LTMModule(**SMALL, window=4, n_latents=4)
    gpt = GPTModule(**SMALL)
    n_ltm = sum(p.numel() for p in ltm.parameters())
    n_gpt = sum(p.numel() for p in gpt.parameters())
    cross = sum(p.numel() for n, p in ltm.named_parameters() if ".cross." in n or "cross_norm" in n or "norm_cross" in n)
    assert n_gpt < n_ltm and n_ltm - n_gpt == cross > 0
    assert gpt.decoder.window is None and ltm.decoder.window == 4


def test_elbo_bounds_the_exact_likelihood_of_a_z_free_decoder():
    """If the decoder ignores z (cross-attention output zeroed), -ELBO = NLL + KL >= NLL, and the
    inner loop drives KL to ~0 (the posterior returns to the prior)."""
    torch.manual_seed(0)
    model = LTMModule(**SMALL, window=4, n_latents=4)
    for blk in model.decoder.blocks:
        torch.nn.init.zeros_(blk.cross.out.weight)
    x = torch.randint(0, 17, (2, 24))
    local = model.fit_local(x, 60)
    nll, kl = model.elbo_terms(x, local)
    exact = model.token_nll(x, torch.zeros(2, 4, 16)).sum(1)
    torch.testing.assert_close(nll, exact)
    assert (kl >= 0).all() and (kl < 0.05 * local.mu[0].numel()).all()


def test_narrow_latents_shape_the_posterior_and_cost_only_the_lift():
    """``latent_dim`` < d_model: q's parameters and z have that width, and the model differs
    from the full-width one by the lift alone (d_model x latent_dim parameters)."""
    torch.manual_seed(0)
    narrow = LTMModule(**SMALL, window=4, n_latents=4, latent_dim=4, fast={"steps": 2})
    full = LTMModule(**SMALL, window=4, n_latents=4)
    x = torch.randint(0, 17, (2, 24))
    local = narrow.fit_local(x, 2)
    assert local.mu.shape == (2, 4, 4) and narrow.infer_z(x[:, :8]).shape == (2, 4, 4)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(narrow) - n(full) == 16 * 4
