"""What ``predict`` leaves for a person (both models): the forecast trajectories with their
observed inputs and the truth, as ``trajectories.npz``, and a plot of the first few sequences,
``trajectories.png`` (observed points, truth, prediction, and where the observed window ends and
extrapolation begins).

``predict_step`` of :class:`~latent_ebm.ode_lebm.ODELEBMModule` and
:class:`~latent_ebm.ode_lebm.LatentODEVAE` returns :func:`prediction_record` of its batch; the
core's prediction writer hands the records of all batches to :func:`write_trajectories`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from latent_ebm.ode_lebm.sequence import Batch, check_batch

__all__ = ["N_PLOTTED", "prediction_record", "window_ends", "write_trajectories"]

N_PLOTTED = 4  # sequences drawn in the plot (vectors; frames draw 3)
DIMS_PLOTTED = 3  # state dimensions drawn per sequence


def prediction_record(batch: Batch, pred: torch.Tensor, obs_shape: tuple[int, ...]) -> dict[str, torch.Tensor]:
    """{pred, x, t (T,), mask, extrap_mask} of one predicted batch, on the CPU: ``pred`` (B, T, ...)
    the forecast at the batch's times, ``x`` the truth at every time (observed or not), ``mask``
    the points the model saw; ``extrap_mask`` 1 past the observed window (all 0 when the batch
    does not say)."""
    _, t, mask = check_batch(batch, obs_shape)
    extrap = batch.get("extrap_mask")
    extrap = torch.zeros_like(mask) if extrap is None else extrap.to(mask)
    return {"pred": pred.detach().cpu(), "x": batch["x"].detach().cpu(), "t": t.detach().cpu(),
            "mask": mask.cpu(), "extrap_mask": extrap.cpu()}


def window_ends(t: np.ndarray, mask: np.ndarray, extrap_mask: np.ndarray) -> np.ndarray:
    """Per sequence, the index of the first extrapolated time (the observed window's end): the
    first point of ``extrap_mask``, else the one after the last observed point. (N,) ints."""
    n, n_t = mask.shape
    ends = np.empty(n, dtype=np.int64)
    for i in range(n):
        ex = np.flatnonzero(extrap_mask[i] > 0)
        ends[i] = ex[0] if len(ex) else int(np.flatnonzero(mask[i] > 0).max()) + 1
    return np.minimum(ends, n_t)


def write_trajectories(predictions: Sequence[dict[str, torch.Tensor]], out_dir: Path,
                       title: str = "") -> list[Path]:
    """``trajectories.npz`` (pred, x, t, mask, extrap_mask of every predicted sequence; t (T,)
    when all share one grid, else (N, T)) and ``trajectories.png``; returns both paths."""
    out_dir = Path(out_dir)
    keys = ("pred", "x", "mask", "extrap_mask")
    arrays = {k: torch.cat([p[k] for p in predictions]).numpy() for k in keys}
    grids = [p["t"] for p in predictions]
    same = all(g.shape == grids[0].shape and torch.equal(g, grids[0]) for g in grids)
    arrays["t"] = grids[0].numpy() if same else torch.cat(
        [g.expand(len(p["pred"]), -1) for g, p in zip(grids, predictions)]).numpy()
    npz = out_dir / "trajectories.npz"
    np.savez_compressed(npz, **arrays)
    png = out_dir / "trajectories.png"
    t = np.broadcast_to(arrays["t"], arrays["mask"].shape)
    if arrays["x"].ndim == 3:
        _plot_vectors(arrays, t, png, title)
    else:
        _plot_frames(arrays, t, png, title)
    return [npz, png]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_vectors(a: dict[str, np.ndarray], t: np.ndarray, path: Path, title: str) -> None:
    """One panel per sequence: truth (line), observed points (dots), prediction (dashed), the
    observed window shaded and its end marked."""
    plt = _pyplot()
    n = min(N_PLOTTED, len(a["x"]))
    ends = window_ends(t, a["mask"], a["extrap_mask"])
    dims = min(DIMS_PLOTTED, a["x"].shape[2])
    cols = min(2, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 2.8 * rows), squeeze=False)
    for i in range(n):
        ax = axes.flat[i]
        ti, seen = t[i], a["mask"][i] > 0
        end = ends[i]
        boundary = ti[end - 1] if end >= len(ti) else 0.5 * (ti[end - 1] + ti[end])
        ax.axvspan(ti[0], boundary, color="0.93", zorder=0)
        ax.axvline(boundary, color="0.4", lw=1, ls=":", zorder=1)
        for d in range(dims):
            c = f"C{d}"
            ax.plot(ti, a["x"][i, :, d], color=c, lw=1, alpha=0.6, label="truth" if d == 0 else None)
            ax.scatter(ti[seen], a["x"][i, seen, d], s=12, color=c, edgecolors="k", linewidths=0.4, zorder=3,
                       label="observed" if d == 0 else None)
            ax.plot(ti, a["pred"][i, :, d], color=c, lw=1.8, ls="--", label="prediction" if d == 0 else None)
        ax.set_title(f"sequence {i}" + (f" (dims 0-{dims - 1} of {a['x'].shape[2]})" if dims > 1 else ""),
                     fontsize=9)
        ax.set_xlabel("t", fontsize=8)
        ax.tick_params(labelsize=7)
        ylo, yhi = ax.get_ylim()
        ax.text(boundary, yhi, " extrapolation →", fontsize=7, va="top", ha="left", color="0.3")
        ax.text(boundary, yhi, "observed window ", fontsize=7, va="top", ha="right", color="0.3")
        if i == 0:
            ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_frames(a: dict[str, np.ndarray], t: np.ndarray, path: Path, title: str) -> None:
    """Per sequence two strips of frames, truth over prediction; observed frames are marked with
    a dot above them, and a red line marks where extrapolation begins."""
    plt = _pyplot()
    n = min(3, len(a["x"]))
    ends = window_ends(t, a["mask"], a["extrap_mask"])
    fig, axes = plt.subplots(2 * n, 1, figsize=(min(24.0, 0.55 * a["x"].shape[1] + 1.5), 1.15 * 2 * n),
                             squeeze=False)
    for i in range(n):
        for r, (name, v) in enumerate((("truth", a["x"][i]), ("prediction", a["pred"][i]))):
            ax = axes[2 * i + r, 0]
            frames = np.clip(np.nan_to_num(v), 0.0, 1.0)  # (T, C, H, W)
            c, h, w = frames.shape[1:]
            pad = np.ones((len(frames), c, h, 1))
            strip = np.concatenate([frames, pad], -1).transpose(2, 0, 3, 1).reshape(h, -1, c)
            ax.imshow(strip[..., 0] if c == 1 else strip, cmap="gray", vmin=0, vmax=1, aspect="equal")
            ax.axvline(ends[i] * (w + 1) - 0.5, color="red", lw=1.5)
            if r == 0:
                seen = np.flatnonzero(a["mask"][i] > 0)
                ax.scatter(seen * (w + 1) + w / 2, np.full(len(seen), -2.0), s=6, color="C2", clip_on=False)
                ax.set_ylim(h - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(f"#{i} {name}", fontsize=7)
    fig.suptitle((title + ": " if title else "") + "dots: observed frames; red line: extrapolation begins",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
