"""Callbacks the CLI adds to every run: what a person sees at the end, and nothing lost on the way.

- :class:`RunSummary`: at the end of ``fit``, ``validate``, ``test`` and ``predict``, the final
  (and best) monitored metrics, the checkpoint written, the log folders, the artifacts and the
  next command; on Ctrl-C or a crash, the checkpoint it saved and the command that resumes.
- :class:`IntervalCheckpoint`: ``last.ckpt`` every ``minutes`` of training, so a long epoch is
  not lost to an interruption (Lightning's ``ModelCheckpoint`` saves at epoch ends).
- :class:`PredictionWriter`: ``predict`` writes what a person looks at through the module's
  ``write_predictions(predictions, out_dir) -> list[Path]`` hook (default: the tensors, saved).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter, Callback, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only

__all__ = ["IntervalCheckpoint", "PredictionWriter", "RunSummary", "write_tensors"]


def _fmt(value: Any) -> str:
    v = float(value)
    return f"{v:.4g}" if math.isfinite(v) else str(v)


def write_tensors(predictions: Sequence[Any], out_dir: Path) -> list[Path]:
    """The default of ``write_predictions``: every batch's output in one ``predictions.pt``."""
    path = out_dir / "predictions.pt"
    torch.save(list(predictions), path)
    return [path]


class PredictionWriter(BasePredictionWriter):
    """Collects ``predict_step`` outputs and hands them to ``pl_module.write_predictions``
    (``out_dir``: ``<root>/predictions/version_N``); the paths written go into the run summary."""

    def __init__(self, out_dir: str | Path) -> None:
        super().__init__(write_interval="epoch")
        self.out_dir = Path(out_dir)
        self.written: list[Path] = []

    def write_on_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Sequence[Any],
                           batch_indices: Sequence[Any]) -> None:
        if not trainer.is_global_zero:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write = getattr(pl_module, "write_predictions", None)
        self.written = list(write(predictions, self.out_dir)) if callable(write) else write_tensors(predictions, self.out_dir)


class IntervalCheckpoint(Callback):
    """Save ``<dirpath>/last.ckpt`` after a training step once ``minutes`` have passed since the last save."""

    def __init__(self, dirpath: str | Path, minutes: float = 10.0) -> None:
        self.dirpath, self.seconds = Path(dirpath), 60.0 * minutes
        self._last = time.monotonic()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last = time.monotonic()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if time.monotonic() - self._last >= self.seconds:
            trainer.save_checkpoint(self.dirpath / "last.ckpt")
            self._last = time.monotonic()


class RunSummary(Callback):
    """The end of a run says what happened and what to do next (stderr, rank 0).

    Args:
        command: the console script and config as the user ran it (``latent-ebm-ltm ... --config tiny``).
        run_dir: where this run's checkpoints go (``<root>/checkpoints/version_N``).
    """

    def __init__(self, command: str, run_dir: str | Path | None = None) -> None:
        self.command, self.run_dir = command, None if run_dir is None else Path(run_dir)

    # ---- pieces ------------------------------------------------------------------------------
    @staticmethod
    def _metrics(trainer: L.Trainer, prefix: Sequence[str]) -> list[str]:
        out = []
        for k, v in sorted(trainer.callback_metrics.items()):
            diagnostic = k.endswith(("_energy", "_grad_norm", "_acceptance"))  # sampler health, in the logs
            if isinstance(v, torch.Tensor) and v.numel() == 1 and k.split("/")[0] in prefix and not diagnostic:
                out.append(f"{k} {_fmt(v)}")
        return out

    @staticmethod
    def _best(trainer: L.Trainer) -> str | None:
        for cb in trainer.checkpoint_callbacks:
            if isinstance(cb, ModelCheckpoint) and cb.monitor and cb.best_model_score is not None:
                return f"best {cb.monitor} {_fmt(cb.best_model_score)} ({cb.best_model_path})"
        return None

    def _checkpoint(self, trainer: L.Trainer) -> Path | None:
        if self.run_dir is not None and (self.run_dir / "last.ckpt").is_file():
            return self.run_dir / "last.ckpt"
        for cb in trainer.checkpoint_callbacks:
            path = getattr(cb, "last_model_path", "") or getattr(cb, "best_model_path", "")
            if path and Path(path).is_file():
                return Path(path)
        return None

    @staticmethod
    def _logs(trainer: L.Trainer) -> list[str]:
        return [str(lg.log_dir) for lg in trainer.loggers if getattr(lg, "log_dir", None)]

    @staticmethod
    def _print(title: str, rows: list[tuple[str, str]]) -> None:
        lines = [f"── {title} " + "─" * max(3, 60 - len(title))]
        lines += [f"  {name:<11}{text}" for name, text in rows if text]
        print("\n".join(lines), file=sys.stderr, flush=True)

    # ---- hooks -------------------------------------------------------------------------------
    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.interrupted:
            return
        ckpt = self._checkpoint(trainer)
        rows = [("metrics", "   ".join(self._metrics(trainer, ("train", "val")))), ("", self._best(trainer) or ""),
                ("checkpoint", str(ckpt) if ckpt else "none saved (checkpointing is off)"),
                ("logs", "   ".join(self._logs(trainer)))]
        if ckpt:
            rows += [("next", f"{self.command.replace(' fit ', ' test ', 1)} --ckpt_path {ckpt}"),
                     ("", f"{self.command.replace(' fit ', ' predict ', 1)} --ckpt_path {ckpt}"),
                     ("", f"{self.command} --ckpt_path {ckpt} --trainer.max_epochs <more>   (continue training)")]
        self._print(f"fit finished at step {trainer.global_step}, epoch {trainer.current_epoch}", rows)

    @rank_zero_only
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "validate":
            self._print("validate finished", [("metrics", "   ".join(self._metrics(trainer, ("val",))))])

    @rank_zero_only
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._print("test finished", [("metrics", "   ".join(self._metrics(trainer, ("test",)))),
                                      ("logs", "   ".join(self._logs(trainer)))])

    @rank_zero_only
    def on_predict_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        written = [p for cb in trainer.callbacks if isinstance(cb, PredictionWriter) for p in cb.written]
        self._print("predict finished", [("wrote", "\n             ".join(str(p) for p in written) or "nothing")])

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if trainer.state.fn != "fit" or self.run_dir is None:
            return
        path = self.run_dir / "last.ckpt"
        try:
            trainer.save_checkpoint(path)  # a collective under DDP: every rank calls it
        except Exception:  # noqa: BLE001 - the run is failing already; say what we have
            path = None
        if trainer.is_global_zero:
            what = "interrupted" if isinstance(exception, KeyboardInterrupt) else f"stopped by {type(exception).__name__}"
            rows = [("checkpoint", str(path) if path else "could not be saved")]
            if path:
                rows.append(("resume", f"{self.command} --ckpt_path last"))
            self._print(f"fit {what} at step {trainer.global_step}", rows)
