"""The LightningCLI every method package uses, with the suite's Trainer defaults set once."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Any

import torch
from jsonargparse import ArgumentError
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import (
    BasePredictionWriter,
    Callback,
    ModelCheckpoint,
    ProgressBar,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only

from latent_ebm.core.callbacks import IntervalCheckpoint, PredictionWriter, RunSummary
from latent_ebm.core.data import DatasetUnavailableError

from ._errors import (
    UsageError,
    checkpoint_error,
    describe_argument_error,
    is_wrapped_validation,
    name_the_option,
    one_line,
    option_names,
    owner_of,
)

__all__ = ["LatentEBMCLI", "default_root_dir", "trainer_defaults"]

SEED_DEFAULT = 0


class _NoTips(logging.Filter):
    """Drop Lightning's advertisement printed at every run ("💡 Tip: ... litlogger")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "💡 Tip" not in record.getMessage()


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_NoTips())


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


def newest_last_checkpoint(root: Path) -> Path | None:
    """The most recently written ``last*.ckpt`` under ``<root>/checkpoints`` (one folder per run)."""
    found = [p for p in (root / "checkpoints").rglob("last*.ckpt") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None


def next_version(folder: Path) -> int:
    """The first N with no ``<folder>/version_N`` (Lightning's loggers count the same way)."""
    taken = {int(p.name.split("_", 1)[1]) for p in folder.glob("version_*") if p.name.split("_", 1)[1].isdigit()}
    return max(taken, default=-1) + 1


def _stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


@rank_zero_only
def _warn_rank_zero(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def user_command(prog: str, argv: list[str]) -> str:
    """The command the user ran, without the subcommand's ``--ckpt_path`` (for "next" hints)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--ckpt_path":
            skip = True
            continue
        if a.startswith("--ckpt_path="):
            continue
        out.append(a if a and " " not in a else repr(a))
    return " ".join([prog, *out])


class LatentEBMCLI(LightningCLI):
    """LightningCLI with the suite's defaults filled in when the config leaves them unset.

    - ``logger`` null/true -> TensorBoard (``<root>/tensorboard``) and CSV (``<root>/csv``).
    - no ``ModelCheckpoint`` -> one in ``<root>/checkpoints/version_N`` (N: the run's, as the
      loggers') keeping ``last.ckpt``; ``--ckpt_path last`` means the newest run's last.ckpt,
      and the checkpoint's saved settings configure the model.
    - no progress bar callback -> ``RichProgressBar`` on a terminal, ``TQDMProgressBar`` in logs.
    """

    def __init__(self, *args: Any, prog: str = "latent-ebm", user_args: list[str] | None = None, **kwargs: Any) -> None:
        self.prog, self.user_args = prog, list(user_args or [])
        super().__init__(*args, **kwargs)

    # ---- errors a user can act on (see _errors.py) ----------------------------------------------
    def _options(self) -> list[str]:
        parsers = [self.parser, *getattr(self, "_subcommand_parsers", {}).values()]
        keys = [opt.lstrip("-") for p in parsers for opt in getattr(p, "_option_string_actions", {})]
        return option_names(k for k in keys if "." in k or k in ("ckpt_path", "config"))

    def _argv(self) -> list[str]:
        return [str(a) for a in (self._args if isinstance(self._args, list | tuple) else sys.argv[1:])]

    def _usage_error(self, err: BaseException) -> UsageError:
        if isinstance(err, ArgumentError) or is_wrapped_validation(str(err)):
            return UsageError(describe_argument_error(str(err), self._options(), self._argv()))
        if isinstance(err, DatasetUnavailableError):
            return UsageError(one_line(str(err)))
        return UsageError(name_the_option(str(err), self._options(), self._argv(), owner_of(err.__traceback__)))

    def parse_arguments(self, parser: Any, args: Any) -> None:
        self._args = args
        try:
            super().parse_arguments(parser, args)
        except (ArgumentError, ValueError) as err:
            raise self._usage_error(err) from err

    def _parse_ckpt_path(self) -> None:
        """Lightning's (the checkpoint's saved hyperparameters configure the model), after
        ``last`` is resolved to the newest run's last checkpoint; a missing or unreadable
        checkpoint is said in one line."""
        sub = self.config.get("subcommand")
        path = self.config[sub].get("ckpt_path") if sub else None
        if path == "last":
            root = Path(self.config[sub].get("trainer", {}).get("default_root_dir") or ".")
            found = newest_last_checkpoint(root)
            if found is None:
                raise UsageError(f"ckpt_path='last' is not allowed; no run under {root} has saved a last.ckpt "
                                 f"(looked in {root / 'checkpoints'})")
            path = self.config[sub]["ckpt_path"] = str(found)
        if not path:
            return
        if not Path(path).is_file():
            raise UsageError(f"ckpt_path={path!r} is not allowed; no such file")
        try:  # weights_only: a crafted pickle never runs; any failure means "not a checkpoint"
            ckpt = torch.load(path, weights_only=True, map_location="cpu")
        except Exception as err:  # noqa: BLE001 - torch raises many kinds for bytes it cannot read
            raise UsageError(checkpoint_error(str(path), err)) from err
        if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
            raise UsageError(f"{path} is not a valid checkpoint (no state_dict: not saved by Lightning)")
        hparams = dict(ckpt.get("hyper_parameters", {}))
        hparams.pop("_instantiator", None)
        if not hparams:
            return
        current = self.config[sub].get("model")
        current_path = current.get("class_path") if hasattr(current, "get") else None
        saved_path = hparams.pop("_class_path", None)
        if saved_path and current_path and _import(saved_path) is not _import(current_path):
            saved = public_path(saved_path)
            raise UsageError(f"{path} is a checkpoint of {saved}, not of {public_path(current_path)}; "
                             f"to {sub} it, add --model {saved}")
        if saved_path or current_path:  # subclass mode: the saved settings are that class's init_args
            hparams = {"class_path": saved_path or current_path, "dict_kwargs": hparams}
        try:
            self.config = self.parser.parse_object({sub: {"model": hparams}}, self.config)
        except (ArgumentError, ValueError) as err:
            raise UsageError(f"{path} does not fit this model: its saved settings are refused "
                             f"({self._usage_error(err)})") from err

    def instantiate_classes(self) -> None:
        """As LightningCLI's (bad values said in one line), then keep Lightning from refusing to
        log a run whose model and data share a setting name with different values (``seed`` of
        the sampler vs of the data split): the data's settings stay in the run's ``config.yaml``
        and out of the logger's merged hyperparameters."""
        try:
            super().instantiate_classes()
        except (ValueError, DatasetUnavailableError) as err:
            raise self._usage_error(err) from err
        model, data = getattr(self, "model", None), getattr(self, "datamodule", None)
        if model is None or data is None:
            return
        mh, dh = dict(getattr(model, "hparams", {})), dict(getattr(data, "hparams", {}))
        if any(k in mh and mh[k] != v for k, v in dh.items()):
            data._log_hyperparams = False

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> Any:
        """Lightning's, plus ``predict --n N``: how many items to predict (the DataModule's
        ``predict_n``)."""
        parser = super()._prepare_subcommand_parser(klass, subcommand, **kwargs)
        if subcommand == "predict":
            parser.add_argument("--n", type=int | None, default=None,
                                help="how many items to predict (sets the data module's predict_n)")
        return parser

    def _set_predict_n(self) -> None:
        n = self.config["predict"].get("n")
        if n is None:
            return
        if n < 1:
            raise UsageError(f"n={n!r} is not allowed; it must be an int >= 1")
        if self.datamodule is None or not hasattr(self.datamodule, "predict_n"):
            raise UsageError("n is not allowed for this method: its data module has no predict_n")
        self.datamodule.predict_n = n

    def _run_subcommand(self, subcommand: str) -> None:
        """Run it; bad values found while running (data, shapes) are said in one line; evaluating
        without a checkpoint is said loudly."""
        if subcommand == "predict":
            self._set_predict_n()
        if subcommand != "fit" and not self.config[subcommand].get("ckpt_path"):
            _warn_rank_zero(f"warning: {subcommand} without --ckpt_path runs the model as constructed, "
                            "UNTRAINED; give --ckpt_path last (the newest run) or a checkpoint's path")
        try:
            super()._run_subcommand(subcommand)
        except (ValueError, DatasetUnavailableError) as err:
            raise self._usage_error(err) from err
        except RuntimeError as err:
            if "state_dict" not in str(err):
                raise
            path = self.config[subcommand].get("ckpt_path")
            raise UsageError(f"{path} does not fit this model ({one_line(str(err))[:300]})") from err

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict[str, Any]:
        """Checkpoints load with ``weights_only=True`` unless the user asks otherwise."""
        kwargs = super()._prepare_subcommand_kwargs(subcommand)
        if "weights_only" in self._subcommand_method_arguments[subcommand] and kwargs.get("weights_only") is None:
            kwargs["weights_only"] = True
        return kwargs

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        extra = [
            self._get(self.config_init, c) for c in self._parser(self.subcommand).callback_keys
        ]
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        root = Path(config.get("default_root_dir") or ".")
        version = max(next_version(root / "tensorboard"), next_version(root / "csv"), next_version(root / "checkpoints"))
        if config.get("logger") in (None, True):
            config["logger"] = [
                TensorBoardLogger(save_dir=root, name="tensorboard", version=version),
                CSVLogger(save_dir=root, name="csv", version=version),
            ]
        callbacks: list[Callback] = _as_list(config.get("callbacks")) + extra
        if config.get("enable_checkpointing", True) is not False and not any(
            isinstance(c, ModelCheckpoint) for c in callbacks
        ):
            run_dir = root / "checkpoints" / f"version_{version}"
            callbacks += [ModelCheckpoint(dirpath=run_dir, save_last=True), IntervalCheckpoint(run_dir)]
        else:
            run_dir = None
        if not any(isinstance(c, BasePredictionWriter) for c in callbacks):
            callbacks.append(PredictionWriter(root / "predictions" / f"version_{version}"))
        callbacks.append(RunSummary(user_command(self.prog, self.user_args), run_dir))
        if config.get("enable_progress_bar", True) is not False and not any(
            isinstance(c, ProgressBar) for c in callbacks
        ):
            callbacks.append(RichProgressBar() if _stderr_is_tty() else TQDMProgressBar())
        config["callbacks"] = callbacks
        return self._instantiate_trainer(config, [])


def _import(dotted: str) -> Any:
    """The object at ``package.module.Name`` (None when it cannot be imported)."""
    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def public_path(dotted: str) -> str:
    """The shortest import path of the same object: ``latent_ebm.ltm.model.GPTModule`` ->
    ``latent_ebm.ltm.GPTModule`` when the package exports it."""
    obj, parts = _import(dotted), dotted.split(".")
    for i in range(1, len(parts) - 1):
        if obj is not None and _import(".".join([*parts[:i], parts[-1]])) is obj:
            return ".".join([*parts[:i], parts[-1]])
    return dotted
