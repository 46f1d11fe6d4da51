"""A causal Transformer decoder whose layers cross-attend to latent vectors.

One class serves:
- LTM (Kong et al. 2025, "Latent Thought Models with Variational Bayes Inference-Time
  Computation", sec. 2 and the first-party ``model.py``): ``style="llama"``,
  ``latent_groups="per_layer"``, ``window=256``. z (B, N_z, d) is split into n_layers equal
  groups; layer l cross-attends to group l, with RoPE on queries (token positions) and latent
  keys (positions k * floor(max_seq_len / N_z) for the k-th latent of each group; see
  :func:`~latent_ebm.core.nn.rope.latent_positions`).
- LPT (Kong et al. 2024, "Molecule Design by Latent Prompt Transformer", official ``gpt.py``):
  ``style="gpt"``, ``latent_groups="shared"``, ``latent_norm=True``: every layer reads all latents
  after one shared LayerNorm; learned absolute positions, no RoPE.
- the same-size autoregressive baseline: ``cross_attention=False`` (z is ignored).
- LPT-RL (Kong et al. 2024, "Latent Plan Transformer", official ``lpt.py``): continuous
  state/action tokens given as ``embeddings=`` (B, T, d_model) instead of token ids, and
  ``positions=False`` (its code applies RoPE at all-zero position ids: no positional signal).

Init (GPT-2 / llama2.c): weights N(0, init_std), biases 0, residual output projections (self-
and cross-attention outputs, FFN output) N(0, init_std / sqrt(2 n_layers)). The first-party LTM
code scales llama2.c's ``w3`` (the SwiGLU *up* projection) instead of the FFN output; we scale
the FFN output, as GPT-2 and minGPT (LPT) do.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from latent_ebm.core.checks import check_int

from .attention import KVCache, attention_plan
from .blocks import DecoderBlock, make_norm
from .rope import latent_positions, rope_tables
from .sampling import check_sampling, sample_next_token

__all__ = ["LatentConditionedDecoder"]

_RESIDUAL_OUTPUTS = ("attn.out.weight", "cross.out.weight", "ffn.out.weight")


def _positive_int(name: str, value: object) -> int:
    check_int(name, value, low=1)
    return value


class LatentConditionedDecoder(nn.Module):
    """Causal LM p(x | z): tokens (B, T) and latents z (B, N_z, d_model) -> logits (B, T, V).

    Args:
        vocab_size, d_model, n_layers, n_heads, max_seq_len: the usual sizes.
        cross_attention: False gives the plain decoder of the same size (z is ignored).
        latent_groups: ``"per_layer"`` splits z into n_layers equal groups (LTM), ``"shared"``
            gives every layer all latents (LPT).
        n_latents: N_z, if fixed (then checked on every call); None takes it from z.
        window: sliding-window causal self-attention: a token reads itself and the
            ``window - 1`` tokens before it. None: full causal attention.
        style: ``"llama"`` (RMSNorm, RoPE theta 10000, SwiGLU, no biases) or ``"gpt"``
            (LayerNorm, learned positions, GELU MLP, biases).
        latent_rope: RoPE on latent keys at evenly spaced positions (llama only: the gpt style
            has no RoPE and ignores it).
        latent_norm: one LayerNorm on z before the cross-attentions (LPT's ``latent_ln``).
        dropout: on embeddings, attention weights, residual branches.
        tie_weights: output head shares the token embedding.
        init_std: std of the normal init.
        positions: ``style="gpt"`` only: learned absolute position embeddings (True) or none
            (False; LPT-RL). The llama style always uses RoPE.
        d_latent: width of each latent vector; None: d_model. A narrower z is lifted to d_model by
            one shared bias-free linear map before the cross-attentions' key/value projections
            (a rank-d_latent factorisation of them, so it limits what z can carry, not how),
            initialised N(0, 1 / d_latent) so that a unit-variance z arrives at unit variance.
    """

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        n_layers: int,
        n_heads: int,
        max_seq_len: int,
        *,
        cross_attention: bool = True,
        latent_groups: Literal["per_layer", "shared"] = "per_layer",
        n_latents: int | None = None,
        window: int | None = None,
        style: Literal["llama", "gpt"] = "llama",
        latent_rope: bool = True,
        latent_norm: bool = False,
        dropout: float = 0.0,
        tie_weights: bool = True,
        init_std: float = 0.02,
        positions: bool = True,
        d_latent: int | None = None,
    ) -> None:
        super().__init__()
        for name, value in (
            ("vocab_size", vocab_size),
            ("d_model", d_model),
            ("n_layers", n_layers),
            ("n_heads", n_heads),
            ("max_seq_len", max_seq_len),
        ):
            _positive_int(name, value)
        if d_model % n_heads:
            raise ValueError(
                f"d_model={d_model} is not allowed with n_heads={n_heads}; d_model must be divisible by n_heads"
            )
        if style not in ("llama", "gpt"):
            raise ValueError(f"style={style!r} is not allowed; choose 'llama' or 'gpt'")
        if style == "llama" and (d_model // n_heads) % 2:
            raise ValueError(
                f"d_model={d_model}, n_heads={n_heads} is not allowed for style='llama'; RoPE needs an even head dimension d_model // n_heads"
            )
        if latent_groups not in ("per_layer", "shared"):
            raise ValueError(
                f"latent_groups={latent_groups!r} is not allowed; choose 'per_layer' or 'shared'"
            )
        if window is not None and (_positive_int("window", window) > max_seq_len):
            raise ValueError(
                f"window={window} is not allowed; it must be None or in [1, max_seq_len={max_seq_len}]"
            )
        if n_latents is not None:
            self._check_n_latents(
                _positive_int("n_latents", n_latents),
                latent_groups,
                n_layers,
                style,
                latent_rope,
                max_seq_len,
            )
        if d_latent is not None:
            _positive_int("d_latent", d_latent)
        if not (isinstance(dropout, int | float) and 0 <= dropout < 1):
            raise ValueError(f"dropout={dropout!r} is not allowed; it must be a number in [0, 1)")
        if not (isinstance(init_std, int | float) and init_std > 0):
            raise ValueError(f"init_std={init_std!r} is not allowed; it must be a number > 0")

        self.vocab_size, self.d_model, self.n_layers, self.n_heads = (
            vocab_size,
            d_model,
            n_layers,
            n_heads,
        )
        self.max_seq_len, self.window, self.style = max_seq_len, window, style
        self.cross_attention, self.latent_groups, self.n_latents = (
            cross_attention,
            latent_groups,
            n_latents,
        )
        self.latent_rope = latent_rope and style == "llama"

        self.tok_emb = nn.Embedding(vocab_size, d_model)
        if positions not in (True, False):
            raise ValueError(f"positions={positions!r} is not allowed; it must be True or False")
        self.pos_emb = nn.Embedding(max_seq_len, d_model) if style == "gpt" and positions else None
        self.emb_dropout = nn.Dropout(dropout)
        self.d_latent = d_model if d_latent is None else d_latent
        self.latent_in = (
            nn.Linear(self.d_latent, d_model, bias=False)
            if cross_attention and self.d_latent != d_model
            else None
        )
        self.latent_norm = nn.LayerNorm(d_model) if latent_norm and cross_attention else None
        self.blocks = nn.ModuleList(
            DecoderBlock(
                d_model, n_heads, style=style, cross_attention=cross_attention, dropout=dropout
            )
            for _ in range(n_layers)
        )
        self.norm = make_norm(style, d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if style == "llama":
            cos, sin = rope_tables(d_model // n_heads, max_seq_len, theta=10000.0)
            self.register_buffer("rope_cos", cos, persistent=False)  # (max_seq_len, hd/2)
            self.register_buffer("rope_sin", sin, persistent=False)
        self._init_weights(init_std)
        if self.latent_in is not None:  # unit-variance lift: the cross-attentions see z at d_model's scale
            nn.init.normal_(self.latent_in.weight, 0.0, self.d_latent**-0.5)
        if tie_weights:
            self.lm_head.weight = self.tok_emb.weight

    # ---- construction helpers ----------------------------------------------------------------

    @staticmethod
    def _check_n_latents(
        n: int, groups: str, n_layers: int, style: str, rope: bool, max_seq_len: int
    ) -> None:
        if groups == "per_layer" and n % n_layers:
            raise ValueError(
                f"n_latents={n} is not allowed with latent_groups='per_layer' and n_layers={n_layers}; it must be divisible by n_layers"
            )
        if style == "llama" and rope and n > max_seq_len:
            raise ValueError(
                f"n_latents={n} is not allowed with latent RoPE; it must be <= max_seq_len={max_seq_len}"
            )

    def _init_weights(self, std: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, 0.0, std)
        for name, p in self.named_parameters():
            if name.endswith(_RESIDUAL_OUTPUTS):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.n_layers))

    def new_cache(self, batch_size: int) -> KVCache:
        """An empty :class:`KVCache` for ``batch_size`` sequences, on this model's device and dtype."""
        w = self.tok_emb.weight
        return KVCache(
            self.n_layers,
            _positive_int("batch_size", batch_size),
            self.n_heads,
            self.d_model // self.n_heads,
            self.max_seq_len,
            device=w.device,
            dtype=w.dtype,
        )

    # ---- forward -------------------------------------------------------------------------------

    def _check_tokens(self, tokens: object, start_pos: int, cache: KVCache | None) -> None:
        if (
            not isinstance(tokens, Tensor)
            or tokens.dim() != 2
            or tokens.shape[1] < 1
            or (tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool)
        ):
            desc = (
                f"shape {tuple(tokens.shape)}, dtype {tokens.dtype}"
                if isinstance(tokens, Tensor)
                else repr(tokens)
            )
            raise ValueError(
                f"tokens ({desc}) is not allowed; it must be an integer tensor (B, T) with T >= 1"
            )
        check_int("start_pos", start_pos, low=0)
        end = start_pos + tokens.shape[1]
        if end > self.max_seq_len:
            raise ValueError(
                f"start_pos + T = {end} is not allowed; it must be <= max_seq_len={self.max_seq_len}"
            )
        if cache is not None:
            if not isinstance(cache, KVCache) or cache.batch_size != tokens.shape[0]:
                raise ValueError(
                    f"cache={cache!r} is not allowed; pass a KVCache from new_cache({tokens.shape[0]})"
                )
            if start_pos > cache.length:
                raise ValueError(
                    f"start_pos={start_pos} is not allowed; the cache holds {cache.length} positions, so start_pos must be <= {cache.length}"
                )

    def _check_z(self, z: object, batch: int) -> Tensor:
        if (
            not isinstance(z, Tensor)
            or z.dim() != 3
            or z.shape[0] != batch
            or z.shape[2] != self.d_latent
            or not z.is_floating_point()
        ):
            desc = f"shape {tuple(z.shape)}" if isinstance(z, Tensor) else repr(z)
            raise ValueError(
                f"z ({desc}) is not allowed; it must be a floating tensor (B={batch}, N_z, d_latent={self.d_latent})"
            )
        n = z.shape[1]
        if self.n_latents is not None and n != self.n_latents:
            raise ValueError(
                f"z with N_z={n} latents is not allowed; this decoder was built with n_latents={self.n_latents}"
            )
        self._check_n_latents(
            max(n, 1),
            self.latent_groups,
            self.n_layers,
            self.style,
            self.latent_rope,
            self.max_seq_len,
        )
        if n < 1:
            raise ValueError(
                "z with N_z=0 latents is not allowed; it must hold at least one latent vector"
            )
        return z

    def latent_rope_positions(self, n_latents: int) -> Tensor:
        """Positions of one layer's latent keys (group size,) for N_z = ``n_latents``."""
        self._check_n_latents(
            _positive_int("n_latents", n_latents),
            self.latent_groups,
            self.n_layers,
            self.style,
            True,
            self.max_seq_len,
        )
        group = n_latents // self.n_layers if self.latent_groups == "per_layer" else n_latents
        return latent_positions(group, n_latents, self.max_seq_len)

    def _latent_kv(self, z: Tensor | None, batch: int, cache: KVCache | None) -> list:
        """Per layer: the latent keys/values its cross-attention reads (None without one)."""
        if not self.cross_attention:
            return [None] * self.n_layers
        if cache is not None and cache.latent[0] is not None:
            return cache.latent
        z = self._check_z(z, batch)
        if self.latent_in is not None:
            z = self.latent_in(z)
        if self.latent_norm is not None:
            z = self.latent_norm(z)
        n = z.shape[1]
        if self.latent_groups == "per_layer":
            groups = z.unflatten(1, (self.n_layers, n // self.n_layers)).unbind(
                1
            )  # L x (B, N_z/L, d)
        else:
            groups = [z] * self.n_layers
        rope = None
        if self.latent_rope:
            pos = self.latent_rope_positions(n).to(z.device)
            rope = (self.rope_cos[pos], self.rope_sin[pos])
        kvs = [blk.cross.latent_kv(g, rope) for blk, g in zip(self.blocks, groups)]
        if cache is not None:
            cache.latent = kvs
        return kvs

    def _check_embeddings(self, tokens: object, embeddings: object) -> Tensor:
        if tokens is not None:
            raise ValueError("tokens and embeddings are not allowed together; give one of them")
        if not isinstance(embeddings, Tensor) or embeddings.dim() != 3 or embeddings.shape[1] < 1 or (
            embeddings.shape[2] != self.d_model or not embeddings.is_floating_point()
        ):
            desc = f"shape {tuple(embeddings.shape)}" if isinstance(embeddings, Tensor) else repr(embeddings)
            raise ValueError(
                f"embeddings ({desc}) is not allowed; it must be a floating tensor (B, T, d_model={self.d_model}) with T >= 1"
            )
        return embeddings

    def features(
        self,
        tokens: Tensor | None,
        z: Tensor | None = None,
        *,
        cache: KVCache | None = None,
        start_pos: int = 0,
        embeddings: Tensor | None = None,
    ) -> Tensor:
        """Final hidden states (B, T, d_model), after the last norm (see :meth:`forward`).

        ``embeddings`` (B, T, d_model), with ``tokens=None``, replaces the token embedding
        lookup (continuous inputs, e.g. LPT-RL's state and action tokens); positions, dropout,
        the blocks and the cache are applied as for tokens.
        """
        if embeddings is not None:
            h = self._check_embeddings(tokens, embeddings)
            self._check_tokens(torch.zeros(h.shape[:2], dtype=torch.long), start_pos, cache)
        else:
            self._check_tokens(tokens, start_pos, cache)
            h = self.tok_emb(tokens)  # (B, T, d)
        b, t = h.shape[:2]
        end = start_pos + t
        plan = attention_plan(start_pos, t, self.window, h.device, cache is not None)
        if self.pos_emb is not None:
            h = h + self.pos_emb(torch.arange(start_pos, end, device=h.device))
        h = self.emb_dropout(h)
        rope = (
            (self.rope_cos[start_pos:end], self.rope_sin[start_pos:end])
            if self.style == "llama"
            else None
        )
        latent = self._latent_kv(z, b, cache)
        for i, block in enumerate(self.blocks):
            h = block(h, plan, rope=rope, latent_kv=latent[i], cache=cache, layer=i)
        if cache is not None:
            cache.length = end
        return self.norm(h)

    def forward(
        self,
        tokens: Tensor | None,
        z: Tensor | None = None,
        *,
        cache: KVCache | None = None,
        start_pos: int = 0,
        embeddings: Tensor | None = None,
    ) -> Tensor:
        """tokens (B, T) at positions [start_pos, start_pos + T), z (B, N_z, d_model) -> logits (B, T, V).

        z is required when the decoder has cross-attention and ignored otherwise. With ``cache``
        (from :meth:`new_cache`), keys/values of these tokens are stored for later calls, earlier
        cached positions are attended to, and the latents' keys/values are computed on the first
        call only.
        """
        return self.lm_head(self.features(tokens, z, cache=cache, start_pos=start_pos, embeddings=embeddings))

    # ---- generation ----------------------------------------------------------------------------

    @torch.no_grad()
    def generate(
        self,
        prompt: Tensor,
        z: Tensor | None,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        eos_id: int | None = None,
    ) -> Tensor:
        """Continue ``prompt`` (B, T0) by up to ``max_new_tokens`` tokens -> (B, T0 + n).

        One prefill call, then one cached call per token: equal to recomputing the whole prefix
        every step. temperature 0 is greedy; see :func:`sample_next_token` for the rest. With
        ``eos_id``, a sequence that produced it is padded with it, and generation stops once all
        have. Call ``.eval()`` first unless dropout is wanted.
        """
        check_sampling(temperature, top_k, top_p, self.vocab_size)
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 0
        ):
            raise ValueError(
                f"max_new_tokens={max_new_tokens!r} is not allowed; it must be an int >= 0"
            )
        if eos_id is not None and not (isinstance(eos_id, int) and 0 <= eos_id < self.vocab_size):
            raise ValueError(
                f"eos_id={eos_id!r} is not allowed; it must be None or an int in [0, {self.vocab_size})"
            )
        self._check_tokens(prompt, 0, None)
        b, t0 = prompt.shape
        if t0 + max_new_tokens > self.max_seq_len:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} is not allowed with a prompt of {t0} tokens; "
                f"prompt length + max_new_tokens must be <= max_seq_len={self.max_seq_len}"
            )
        out = [prompt]
        if max_new_tokens == 0:
            return prompt
        cache = self.new_cache(b)
        logits = self.lm_head(self.features(prompt, z, cache=cache)[:, -1])  # (B, V)
        done = torch.zeros(b, dtype=torch.bool, device=prompt.device)
        for i in range(max_new_tokens):
            nxt = sample_next_token(
                logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
            )
            if eos_id is not None:
                nxt = nxt.masked_fill(done, eos_id)
                done |= nxt == eos_id
            out.append(nxt.to(prompt.dtype)[:, None])
            if i == max_new_tokens - 1 or (eos_id is not None and bool(done.all())):
                break
            h = self.features(out[-1], z, cache=cache, start_pos=t0 + i)  # (B, 1, d)
            logits = self.lm_head(h[:, -1])
        return torch.cat(out, dim=1)
