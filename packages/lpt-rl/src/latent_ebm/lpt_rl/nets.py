"""The networks around the core's decoder: token embeddings, action head, return model."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from latent_ebm.core.checks import check_int, check_real
from latent_ebm.core.nn import LatentConditionedDecoder

__all__ = ["ReturnMLP", "TrajectoryPolicy"]


class ReturnMLP(nn.Module):
    """r_gamma(z): flattened z (B, n_latent * d) -> (B,), MLP with Swish and dropout (the LPT
    code: d -> 100 -> 100 -> 1, Swish, Dropout 0.3)."""

    def __init__(self, in_dim: int, hidden: Sequence[int] = (100, 100), dropout: float = 0.3) -> None:
        super().__init__()
        check_real("return_dropout", dropout, low=0.0, high=1.0, high_open=True)
        layers: list[nn.Module] = []
        for d_in, d_out in zip([in_dim, *hidden[:-1]], hidden):
            check_int("return_hidden", d_out, low=1)
            layers += [nn.Linear(d_in, d_out), nn.SiLU(), nn.Dropout(dropout)]
        self.net = nn.Sequential(*layers, nn.Linear(hidden[-1] if hidden else in_dim, 1))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.flatten(1)).squeeze(-1)


class TrajectoryPolicy(nn.Module):
    """p_beta(a_t | s_{<=t}, a_{<t}, z): tokens s_1, a_1, s_2, a_2, ... (linear embeddings, one
    LayerNorm), the core's :class:`LatentConditionedDecoder` (GPT pre-LN blocks, causal
    sliding-window self-attention over ``context`` tokens, cross-attention to the latents in
    every block, no positional signal), and a tanh action head read at the STATE tokens.

    ``cross_attention=False`` gives the same network without latents (behaviour cloning).
    ``rtg=True`` adds a linear embedding of the return-to-go R_t to the token of s_t (Decision
    Transformer's conditioning with step rewards; DT gives R_t a token of its own, here it is
    summed into the state token so the token layout, window and receptive field stay LPT's).
    """

    def __init__(self, obs_dim: int, act_dim: int, d_model: int, n_layers: int, n_heads: int, max_len: int,
                 context: int, n_latent: int, dropout: float, cross_attention: bool = True, rtg: bool = False) -> None:
        super().__init__()
        for name, value in (("obs_dim", obs_dim), ("act_dim", act_dim), ("context", context)):
            check_int(name, value, low=1)
        self.obs_dim, self.act_dim, self.n_layers, self.context = obs_dim, act_dim, n_layers, context
        self.embed_state = nn.Linear(obs_dim, d_model)
        self.embed_action = nn.Linear(act_dim, d_model)
        self.embed_rtg = nn.Linear(1, d_model) if rtg else None
        self.embed_ln = nn.LayerNorm(d_model)
        self.decoder = LatentConditionedDecoder(
            1, d_model, n_layers, n_heads, 2 * max_len, cross_attention=cross_attention, latent_groups="shared",
            n_latents=n_latent if cross_attention else None, window=min(context, 2 * max_len), style="gpt",
            latent_norm=True, dropout=dropout, tie_weights=False, positions=False,
        )
        # the token table and LM head are unused with continuous inputs: frozen, so DDP ignores them
        for p in (self.decoder.tok_emb.weight, self.decoder.lm_head.weight):
            p.requires_grad_(False)
        self.action_head = nn.Sequential(nn.Linear(d_model, act_dim), nn.Tanh())

    @property
    def receptive_field(self) -> int:
        """Tokens an output depends on: n_layers * (context - 1) + 1 (a sliding window per layer)."""
        return self.n_layers * (self.decoder.window - 1) + 1 if self.decoder.window else 10**9

    def forward(self, obs: Tensor, act: Tensor, z: Tensor | None, rtg: Tensor | None = None) -> Tensor:
        """obs (B, T, ds) normalised, act (B, T', da) with T' in {T - 1, T}, z (B, n_latent, d),
        rtg (B, T) scaled returns-to-go (``rtg=True`` only) -> predicted actions (B, T, da), row t
        read at the token of s_t (it has seen a_{<t} only)."""
        b, t, _ = obs.shape
        s = self.embed_state(obs)
        if self.embed_rtg is not None:
            if rtg is None:
                raise ValueError("rtg=None is not allowed; this policy was built with rtg=True")
            s = s + self.embed_rtg(rtg.unsqueeze(-1).to(s.dtype))
        a = self.embed_action(act)
        if act.shape[1] < t:  # acting: the last state has no action yet
            a = torch.cat([a, torch.zeros_like(s[:, :1])], 1)
        tokens = torch.stack([s, a], 2).reshape(b, 2 * t, -1)  # (B, 2T, d): s1 a1 s2 a2 ...
        if act.shape[1] < t:
            tokens = tokens[:, :-1]
        h = self.decoder.features(None, z, embeddings=self.embed_ln(tokens))
        return self.action_head(h[:, 0::2])

    def act(self, obs: Tensor, act: Tensor, z: Tensor | None, rtg: Tensor | None = None) -> Tensor:
        """The action at the last state (B, da) from the last ``receptive_field`` tokens only:
        equal to reading the whole history, since nothing gives a token its position."""
        keep = self.receptive_field // 2 + 1  # 2 keep - 1 >= receptive_field tokens
        return self.forward(obs[:, -keep:], act[:, -(keep - 1):] if keep > 1 else act[:, :0], z,
                            None if rtg is None else rtg[:, -keep:])[:, -1]
