"""The latent-conditioned decoder: masks (causal, sliding window, receptive field), RoPE latent
positions against a hand-written cross-attention, KV-cache generation against full
recomputation, conditioning on z, LTM-S parameter count, and bad input."""

import math

import pytest
import torch
import torch.nn.functional as F

from latent_ebm.core.nn import LatentConditionedDecoder, apply_rope, latent_positions, rope_tables
from latent_ebm.core.nn.blocks import swiglu_hidden
from latent_ebm.core.nn.sampling import sample_next_token

V, D, H, T = 37, 32, 4, 16


def gen(seed):
    return torch.Generator().manual_seed(seed)


def make(seed=0, **kw):
    torch.manual_seed(seed)
    kw.setdefault("n_layers", 2)
    n_layers = kw.pop("n_layers")
    return LatentConditionedDecoder(V, D, n_layers, H, T, **kw).double().eval()


def tokens(b=2, t=T, seed=1):
    return torch.randint(0, V, (b, t), generator=gen(seed))


def latents(b=2, n=4, seed=2):
    return torch.randn(b, n, D, generator=gen(seed), dtype=torch.float64)


LLAMA = dict(style="llama", latent_groups="per_layer", n_latents=4)
GPT = dict(style="gpt", latent_groups="shared", latent_norm=True, dropout=0.1)


def influence(model, z, i_changed, x=None):
    """Max |change| of each position's logits when token i_changed is replaced: (T,)."""
    x = tokens() if x is None else x
    x2 = x.clone()
    x2[:, i_changed] = (x2[:, i_changed] + 1) % V
    with torch.no_grad():
        return (model(x, z) - model(x2, z)).abs().amax(dim=(0, 2))


# ---- masks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("style", [LLAMA, GPT])
def test_causal_no_look_ahead(style):
    model, z = make(**style), latents()
    for j in (3, 9, T - 1):
        d = influence(model, z, j)
        assert d[:j].max() == 0  # earlier positions never see token j
        assert (d[j:] > 1e-8).all()  # full attention: every later position does


@pytest.mark.parametrize("window", [1, 4, 7])
def test_sliding_window_one_layer_reads_exactly_its_window(window):
    model, z = make(n_layers=1, window=window, **dict(LLAMA, n_latents=2)), latents(n=2)
    for j in range(0, T, 3):
        d = influence(model, z, j)
        inside = torch.zeros(T, dtype=torch.bool)
        inside[j : j + window] = True  # i reads j iff i - window < j <= i
        assert (d[inside] > 1e-8).all(), (j, d)
        assert d[~inside].max() == 0, (j, d)


def test_sliding_window_receptive_field_grows_by_window_minus_one_per_layer():
    window, layers = 3, 3
    model = make(n_layers=layers, window=window, style="gpt", latent_groups="shared")
    z = latents(n=3)
    reach = layers * (window - 1)  # position i depends on tokens i - reach .. i
    d = influence(model, z, 2)
    assert (d[2 : 3 + reach] > 1e-8).all() and d[3 + reach :].max() == 0 and d[:2].max() == 0


# ---- RoPE and latent positions ---------------------------------------------------------------


def test_latent_positions_follow_the_first_party_spacing():
    # LTM-S: 1024 tokens, 24 latents on 3 layers: spacing 1024 // 24 = 42, 8 latents per layer.
    assert latent_positions(8, 24, 1024).tolist() == [42 * k for k in range(8)]
    assert latent_positions(8, 96, 1024).tolist() == [10 * k for k in range(8)]  # LTM-L
    m = LatentConditionedDecoder(50, 16, 3, 2, 1024, n_latents=24)
    assert m.latent_rope_positions(24).tolist() == [42 * k for k in range(8)]
    shared = LatentConditionedDecoder(50, 16, 2, 2, 100, latent_groups="shared")
    assert shared.latent_rope_positions(7).tolist() == [14 * k for k in range(7)]


def test_rope_scores_depend_only_on_relative_position():
    cos, sin = rope_tables(8, 64)
    q, k = torch.randn(1, 1, 1, 8, generator=gen(3)), torch.randn(1, 1, 1, 8, generator=gen(4))

    def score(p, r):
        qp = apply_rope(q, cos[p : p + 1], sin[p : p + 1])
        kr = apply_rope(k, cos[r : r + 1], sin[r : r + 1])
        return (qp * kr).sum()

    assert torch.allclose(score(10, 3), score(40, 33), atol=1e-5)
    assert not torch.allclose(score(10, 3), score(10, 4), atol=1e-3)
    assert torch.allclose(apply_rope(q, cos[:1], sin[:1]), q)  # position 0 is the identity


def test_cross_attention_matches_a_hand_written_reference_with_latent_rope():
    """Layer l reads group l of z, keys rotated at k * floor(max_seq_len / N_z), queries at their
    token positions, softmax without mask."""
    model, z, x = make(**LLAMA), latents(), tokens(t=6)
    got = {}
    for blk in model.blocks:
        blk.cross.register_forward_hook(
            lambda m, a, out, blk=blk: got.__setitem__(blk, (a[0], out))
        )
    model(x, z)
    cos, sin = rope_tables(D // H, T)
    kpos = torch.arange(2) * (T // 4)  # 2 latents per layer, spacing 16 // 4
    for layer, blk in enumerate(model.blocks):
        xin, out = got[blk]
        c = blk.cross
        q = c.q(xin).unflatten(-1, (H, -1)).transpose(1, 2)
        k, v = (
            a.unflatten(-1, (H, -1)).transpose(1, 2)
            for a in c.kv(z[:, 2 * layer : 2 * layer + 2]).chunk(2, -1)
        )
        q = apply_rope(q, cos[:6], sin[:6])
        k = apply_rope(k, cos[kpos], sin[kpos])
        att = (q @ k.transpose(-1, -2) / math.sqrt(D // H)).softmax(-1)
        ref = c.out((att @ v).transpose(1, 2).flatten(2))
        assert torch.allclose(out, ref, atol=1e-12)
    # And the positions matter: without latent RoPE the output differs.
    plain = make(**LLAMA, latent_rope=False)
    assert not torch.allclose(plain(x, z), model(x, z))


# ---- conditioning on z -----------------------------------------------------------------------


@pytest.mark.parametrize("style", [LLAMA, GPT])
def test_changing_z_changes_the_logits(style):
    model, x = make(**style), tokens()
    z = latents()
    base = model(x, z)
    for layer in range(2):  # per_layer: each group matters; shared: each latent does
        z2 = z.clone()
        z2[:, 2 * layer] += torch.randn(
            D, generator=gen(layer), dtype=torch.float64
        )  # not a shift: LayerNorm would erase that
        assert (model(x, z2) - base).abs().amax(dim=-1).min() > 1e-6


def test_plain_decoder_ignores_z_and_is_the_same_size_minus_cross_attention():
    plain = make(cross_attention=False, style="llama")
    x = tokens()
    assert torch.equal(plain(x, latents(seed=5)), plain(x, None))
    assert torch.equal(plain(x, latents(seed=5)), plain(x, latents(seed=6)))
    full = make(**LLAMA)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(full) - n(plain) == 2 * (4 * D * D + D)  # per layer: q, kv, out + RMSNorm


# ---- KV cache --------------------------------------------------------------------------------


def full_recompute(model, prompt, z, n, pick):
    seq = prompt
    for _ in range(n):
        logits = model(seq, z)[:, -1]
        seq = torch.cat([seq, pick(logits)[:, None]], dim=1)
    return seq


@pytest.mark.parametrize(
    "style", [LLAMA, GPT, dict(LLAMA, window=3), dict(GPT, cross_attention=False)]
)
def test_greedy_generation_with_the_cache_equals_full_recomputation(style):
    model, z, prompt = make(**style), latents(), tokens(t=4)
    ref = full_recompute(model, prompt, z, T - 4, lambda lg: lg.argmax(-1))
    assert torch.equal(model.generate(prompt, z, T - 4, temperature=0.0), ref)


@pytest.mark.parametrize("style", [dict(LLAMA, window=5), GPT])
def test_cached_logits_equal_full_logits_step_by_step_and_in_chunks(style):
    model, z, x = make(**style), latents(), tokens()
    full = model(x, z)
    cache = model.new_cache(2)
    parts, start = [], 0
    for size in (3, 1, 1, 4, 2, 5):  # prefill, single steps, then chunks past the window
        parts.append(
            model(
                x[:, start : start + size], z if start == 0 else None, cache=cache, start_pos=start
            )
        )
        start += size
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-10)


def test_sampled_generation_with_a_generator_equals_full_recomputation():
    model, z, prompt = make(**LLAMA, window=4), latents(), tokens(t=3)
    settings = dict(temperature=0.8, top_k=10, top_p=0.9)
    out = model.generate(prompt, z, 12, generator=gen(7), **settings)
    g = gen(7)
    ref = full_recompute(
        model, prompt, z, 12, lambda lg: sample_next_token(lg, generator=g, **settings)
    )
    assert torch.equal(out, ref)
    assert torch.equal(out, model.generate(prompt, z, 12, generator=gen(7), **settings))
    assert not torch.equal(out, model.generate(prompt, z, 12, generator=gen(8), **settings))


def test_top_k_one_and_tiny_top_p_are_greedy_and_eos_pads():
    model, z, prompt = make(**GPT), latents(), tokens(t=2)
    greedy = model.generate(prompt, z, 8, temperature=0.0)
    assert torch.equal(model.generate(prompt, z, 8, top_k=1, generator=gen(0)), greedy)
    assert torch.equal(model.generate(prompt, z, 8, top_p=1e-6, generator=gen(0)), greedy)
    eos = int(greedy[0, 4])
    out = model.generate(prompt, z, 8, temperature=0.0, eos_id=eos)
    for row in out:
        hits = (row[2:] == eos).nonzero()
        if len(hits):
            assert (row[2 + int(hits[0]) :] == eos).all()
    assert torch.equal(model.generate(prompt, z, 0), prompt)


def test_nucleus_keeps_the_smallest_set_reaching_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    draws = torch.stack(
        [sample_next_token(logits, top_p=0.75, generator=gen(s)) for s in range(400)]
    )
    assert set(draws.flatten().tolist()) == {0, 1}  # 0.5 < 0.75 <= 0.5 + 0.3
    frac0 = (draws == 0).float().mean().item()
    assert abs(frac0 - 0.5 / 0.8) < 0.08


# ---- sizes -----------------------------------------------------------------------------------


def test_ltm_s_parameter_count_is_the_papers_38m():
    with torch.device("meta"):
        ltm = LatentConditionedDecoder(50258, 512, 3, 8, 1024, n_latents=24, window=256)
        gpt = LatentConditionedDecoder(50258, 512, 3, 8, 1024, cross_attention=False)
    d, hid = 512, swiglu_hidden(512)
    assert hid == 1376  # int(2/3 * 2048) = 1365 -> next multiple of 32
    per_layer = 4 * d * d + 4 * d * d + 3 * d * hid + 3 * d  # self-attn, cross-attn, SwiGLU, norms
    expected = 50258 * d + 3 * per_layer + d  # tied embedding, final norm
    n_ltm = sum(p.numel() for p in ltm.parameters())
    assert n_ltm == expected
    assert abs(n_ltm / 1e6 - 38.4) < 0.1
    assert n_ltm - sum(p.numel() for p in gpt.parameters()) == 3 * (4 * d * d + d)


def test_init_scales_residual_outputs_and_ties_weights():
    torch.manual_seed(0)
    m = LatentConditionedDecoder(1000, 256, 8, 4, 64, n_latents=8)
    assert m.lm_head.weight is m.tok_emb.weight
    assert abs(m.blocks[0].attn.qkv.weight.std().item() - 0.02) < 0.001
    for name in ("attn", "cross", "ffn"):
        w = getattr(m.blocks[3], name).out.weight
        assert abs(w.std().item() - 0.02 / math.sqrt(16)) < 0.0005
    assert not any(n.endswith("bias") for n, _ in m.named_parameters())  # llama: no biases
    untied = LatentConditionedDecoder(1000, 64, 2, 4, 64, style="gpt", tie_weights=False)
    assert untied.lm_head.weight is not untied.tok_emb.weight


def test_dropout_only_in_training_mode():
    model, z, x = make(**GPT), latents(), tokens()
    assert torch.equal(model(x, z), model(x, z))
    model.train()
    assert not torch.equal(model(x, z), model(x, z))


def test_gradients_reach_z():
    model, x = make(**LLAMA), tokens()
    z = latents().requires_grad_(True)
    loss = F.cross_entropy(model(x[:, :-1], z).flatten(0, 1), x[:, 1:].flatten())
    (g,) = torch.autograd.grad(loss, z)
    assert g.abs().amax(dim=(0, 2)).min() > 0  # every latent vector is read by some layer


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        (dict(window=T + 1), "window"),
        (dict(window=0), "window"),
        (dict(n_latents=5, n_layers=2), "n_latents"),
        (dict(n_latents=T + 2, n_layers=2), "n_latents"),
        (dict(n_heads=5), "d_model"),
        (dict(style="bert"), "style"),
        (dict(latent_groups="every"), "latent_groups"),
        (dict(dropout=1.0), "dropout"),
    ],
)
def test_bad_constructor_arguments_name_themselves(kw, name):
    args = dict(vocab_size=V, d_model=D, n_layers=2, n_heads=H, max_seq_len=T)
    args.update({k: kw.pop(k) for k in list(kw) if k in args})
    with pytest.raises(ValueError, match=name):
        LatentConditionedDecoder(**args, **kw)


def test_bad_call_arguments_name_themselves():
    model, x = make(**LLAMA), tokens()
    with pytest.raises(ValueError, match="z "):
        model(x, torch.randn(2, 4, D + 1, dtype=torch.float64))  # wrong width
    with pytest.raises(ValueError, match="z "):
        model(x, None)
    with pytest.raises(ValueError, match="N_z=6"):
        model(x, latents(n=6))  # built with n_latents=4
    free = make(style="llama")  # n_latents from z: must still split over 2 layers
    with pytest.raises(ValueError, match="n_latents=3"):
        free(x, latents(n=3))
    with pytest.raises(ValueError, match="tokens"):
        model(x.double(), latents())
    with pytest.raises(ValueError, match="max_seq_len"):
        model(tokens(t=4), latents(), start_pos=T - 2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate(tokens(t=4), latents(), T)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(tokens(t=4), latents(), 2, temperature=-1.0)
    with pytest.raises(ValueError, match="top_p"):
        model.generate(tokens(t=4), latents(), 2, top_p=0.0)
    with pytest.raises(ValueError, match="start_pos"):
        model(tokens(t=1), latents(), cache=model.new_cache(2), start_pos=3)


def test_embeddings_input_equals_token_lookup_and_positions_can_be_off():
    """``embeddings=`` is the token path with the lookup done by the caller (LPT-RL's continuous
    tokens); ``positions=False`` drops the learned positions, so a shifted window reads the same."""
    torch.manual_seed(0)
    dec = LatentConditionedDecoder(11, 16, 2, 2, 12, style="gpt", latent_groups="shared").eval()
    tokens = torch.randint(0, 11, (3, 7))
    z = torch.randn(3, 2, 16)
    torch.testing.assert_close(dec(None, z, embeddings=dec.tok_emb(tokens)), dec(tokens, z))
    flat = LatentConditionedDecoder(11, 16, 2, 2, 12, style="gpt", latent_groups="shared", positions=False).eval()
    assert flat.pos_emb is None
    emb = torch.randn(3, 5, 16)
    torch.testing.assert_close(flat.features(None, z, embeddings=emb),
                               flat.features(None, z, embeddings=emb, start_pos=4))
    with pytest.raises(ValueError, match="embeddings"):
        flat.features(None, z, embeddings=torch.randn(3, 5, 8))
    with pytest.raises(ValueError, match="not allowed together"):
        flat.features(tokens, z, embeddings=emb)
    with pytest.raises(ValueError, match="positions="):
        LatentConditionedDecoder(11, 16, 2, 2, 12, style="gpt", positions="no")


def test_narrow_latents_are_the_full_width_decoder_reading_the_lifted_z():
    """``d_latent < d_model``: the decoder equals a full-width one (same weights) fed
    latent_in(z), the lift keeps a unit-variance z at unit variance, and z's width is checked."""
    narrow = make(d_latent=8, **LLAMA)
    full = make(**LLAMA)
    full.load_state_dict({k: v for k, v in narrow.state_dict().items() if not k.startswith("latent_in")})
    x, z = tokens(), torch.randn(2, 4, 8, generator=gen(3), dtype=torch.float64)
    with torch.no_grad():
        lifted = narrow.latent_in(z)
        torch.testing.assert_close(narrow(x, z), full(x, lifted))
        assert 0.7 < narrow.latent_in(torch.randn(4096, 1, 8, dtype=torch.float64)).std() < 1.3
    assert narrow.latent_in.weight.shape == (D, 8)
    assert make(d_latent=D, **LLAMA).latent_in is None  # full width: no lift, same parameters as before
    with pytest.raises(ValueError, match="d_latent=8"):
        narrow(x, latents())  # width D given, 8 expected
    with pytest.raises(ValueError, match="d_latent"):
        make(d_latent=0, **LLAMA)
