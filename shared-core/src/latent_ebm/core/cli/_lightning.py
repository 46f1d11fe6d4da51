"""The LightningCLI every method package uses, with the suite's Trainer defaults set once."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import (
    Callback,
    ModelCheckpoint,
    ProgressBar,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

__all__ = ["LatentEBMCLI", "default_root_dir", "trainer_defaults"]

SEED_DEFAULT = 0


def default_root_dir(model_class: type, config_package: object = None) -> str:
    """``runs/<method>``: ``<method>`` from ``latent_ebm.<method>.*`` (the config package, else the
    model's module), else the model class name."""
    for dotted in (config_package, getattr(model_class, "__module__", "")):
        parts = str(dotted or "").split(".")
        if len(parts) > 2 and parts[0] == "latent_ebm":
            return str(Path("runs") / parts[1])
    return str(Path("runs") / model_class.__name__.lower())


def trainer_defaults(model_class: type, config_package: object = None) -> dict[str, Any]:
    """Defaults shown by ``--help`` / ``--print_config`` and overridable from YAML or flags.

    ``inference_mode=False``: Langevin inference inside validation/test needs autograd, which
    ``torch.inference_mode`` forbids even under ``enable_grad`` (Lightning issues 14497, 17653).
    """
    root = default_root_dir(model_class, config_package)
    return {"inference_mode": False, "default_root_dir": root}


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


class LatentEBMCLI(LightningCLI):
    """LightningCLI with the suite's defaults filled in when the config leaves them unset.

    - ``logger`` null/true -> TensorBoard (``<root>/tensorboard``) and CSV (``<root>/csv``).
    - no ``ModelCheckpoint`` -> one in ``<root>/checkpoints`` keeping ``last.ckpt``, so
      ``fit --ckpt_path last`` resumes the latest run.
    - no progress bar callback -> ``RichProgressBar`` on a terminal, ``TQDMProgressBar`` in logs.
    """

    def instantiate_classes(self) -> None:
        """As LightningCLI's, then keep Lightning from refusing to log a run whose model and data
        share a setting name with different values (``seed`` of the sampler vs of the data
        split): the data's settings stay in the run's ``config.yaml`` and out of the logger's
        merged hyperparameters."""
        super().instantiate_classes()
        model, data = getattr(self, "model", None), getattr(self, "datamodule", None)
        if model is None or data is None:
            return
        mh, dh = dict(getattr(model, "hparams", {})), dict(getattr(data, "hparams", {}))
        if any(k in mh and mh[k] != v for k, v in dh.items()):
            data._log_hyperparams = False

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        extra = [
            self._get(self.config_init, c) for c in self._parser(self.subcommand).callback_keys
        ]
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        root = Path(config.get("default_root_dir") or ".")
        if config.get("logger") in (None, True):
            config["logger"] = [
                TensorBoardLogger(save_dir=root, name="tensorboard"),
                CSVLogger(save_dir=root, name="csv"),
            ]
        callbacks: list[Callback] = _as_list(config.get("callbacks")) + extra
        if config.get("enable_checkpointing", True) is not False and not any(
            isinstance(c, ModelCheckpoint) for c in callbacks
        ):
            callbacks.append(ModelCheckpoint(dirpath=root / "checkpoints", save_last=True))
        if config.get("enable_progress_bar", True) is not False and not any(
            isinstance(c, ProgressBar) for c in callbacks
        ):
            callbacks.append(RichProgressBar() if _stderr_is_tty() else TQDMProgressBar())
        config["callbacks"] = callbacks
        return self._instantiate_trainer(config, [])
