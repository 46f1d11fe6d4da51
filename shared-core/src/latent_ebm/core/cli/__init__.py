"""Command line: ``main(Model, DataModule)`` builds each package's LightningCLI; ``latent-ebm``
is the umbrella command (``latent-ebm list``, ``latent-ebm <method> fit ...``, ``latent-ebm data ...``).
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn

from ._configs import available_configs, resolve_config, resolve_config_args
from ._errors import DEBUG_ENV, UsageError

__all__ = [
    "UsageError",
    "available_configs",
    "import_method_packages",
    "installed_methods",
    "main",
    "resolve_config",
    "umbrella",
]

METHODS_GROUP = "latent_ebm.methods"


def main(
    model_class: type,
    datamodule_class: type | None,
    *,
    config_package: str | os.PathLike | None = None,
    args: list[str] | dict | None = None,
    return_cli: bool | None = None,
    **cli_kwargs: Any,
):
    """Run a LightningCLI (``fit``/``validate``/``test``/``predict``) for one method.

    Returns the CLI when ``args`` is given (or ``return_cli=True``); as a console script
    (``args=None``) it returns None, since ``sys.exit`` turns any other object into exit status 1.

    ``--config`` takes a YAML path or the name of a config shipped in ``config_package`` (a
    package name such as ``"latent_ebm.lebm.configs"`` or a folder): ``fit --config tiny``.
    Trainer defaults: ``inference_mode=False``, TensorBoard + CSV loggers and a resumable
    ``last.ckpt`` under ``runs/<method>``, a rich progress bar on terminals, seed 0.
    ``cli_kwargs`` go to ``LightningCLI`` (e.g. ``run=False``).
    """
    from ._lightning import SEED_DEFAULT, LatentEBMCLI, default_root_dir, trainer_defaults

    parser_kwargs = cli_kwargs.setdefault("parser_kwargs", {})
    parser_kwargs.setdefault("exit_on_error", False)  # errors reach _errors, said in one line
    parser_kwargs.setdefault("allow_abbrev", False)  # --trainer.max_step is not --trainer.max_steps
    if config_package is not None:
        try:
            names = ", ".join(available_configs(config_package))
        except ValueError:
            names = ""
        if names:
            parser_kwargs.setdefault("description", f"Shipped configs (--config NAME): {names}.")
    cli_kwargs.setdefault("trainer_defaults", trainer_defaults(model_class, config_package))
    cli_kwargs.setdefault("seed_everything_default", SEED_DEFAULT)
    cli_kwargs.setdefault("save_config_kwargs", {"overwrite": True})
    saved_argv = sys.argv
    prog = "latent-ebm-" + Path(default_root_dir(model_class, config_package)).name.replace("_", "-")
    user_args = list(saved_argv[1:]) if args is None else (list(args) if not isinstance(args, dict) else [])
    with ExitStack() as stack:
        try:
            if (
                args is None
            ):  # console script: rewrite sys.argv itself, so Lightning reads it as usual
                sys.argv = [
                    saved_argv[0],
                    *resolve_config_args(saved_argv[1:], config_package, stack),
                ]
            elif not isinstance(args, dict):
                args = resolve_config_args(list(args), config_package, stack)
        except ValueError as err:
            _exit_usage(str(err))
        if return_cli is None:
            return_cli = args is not None
        try:
            cli = LatentEBMCLI(model_class, datamodule_class, args=args, prog=prog, user_args=user_args, **cli_kwargs)
            return cli if return_cli else None
        except UsageError as err:
            if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                raise
            _exit_usage(str(err))
        finally:
            sys.argv = saved_argv


def _exit_usage(message: str) -> NoReturn:
    """``error: <message>`` on stderr and exit status 2 (``LATENT_EBM_DEBUG=1`` shows tracebacks)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def installed_methods() -> dict[str, importlib.metadata.EntryPoint]:
    """Method name -> entry point, from the ``latent_ebm.methods`` entry-point group."""
    eps = importlib.metadata.entry_points(group=METHODS_GROUP)
    return {ep.name: ep for ep in sorted(eps, key=lambda e: e.name)}


def _dist(ep: importlib.metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "-", "-"
    return dist.metadata["Name"] or "-", dist.version or "-"


def _print_methods() -> None:
    methods = installed_methods()
    if not methods:
        print("no latent-ebm methods installed (pip install latent-ebm-<method>)")
        return
    rows = [("method", "distribution", "version", "configs (--config NAME)")]
    rows += [(name, *_dist(ep), _configs_of(ep)) for name, ep in methods.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[3])


def _configs_of(ep: importlib.metadata.EntryPoint) -> str:
    """The shipped config names of a method (``latent_ebm.<method>.configs``), or '-'."""
    package = ep.value.split(":", 1)[0].rsplit(".", 1)[0]
    try:
        return ", ".join(available_configs(f"{package}.configs")) or "-"
    except ValueError:
        return "-"


def import_method_packages() -> None:
    """Import every installed method's package, so the datasets it registers are known."""
    for ep in installed_methods().values():
        package = ep.value.split(":", 1)[0].rsplit(".", 1)[0]
        try:
            importlib.import_module(package)
        except Exception as err:  # noqa: BLE001 - a broken package must not hide the others
            print(f"warning: could not import {package}: {err}", file=sys.stderr)


_USAGE = """usage: latent-ebm list                 methods installed (entry points in latent_ebm.methods), with their configs
       latent-ebm <method> [ARGS...]    run that method's CLI, e.g. latent-ebm ltm fit --config tiny
       latent-ebm data list|path|verify the dataset cache (python -m latent_ebm.core.data)"""


def umbrella(argv: list[str] | None = None) -> int:
    """The ``latent-ebm`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_USAGE)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "list":
        _print_methods()
        return 0
    if cmd == "data":
        from ..data.__main__ import main as data_main

        return data_main(rest)
    methods = installed_methods()
    if cmd not in methods:
        print(
            f"latent-ebm: error: unknown command {cmd!r}; expected list, data or one of "
            f"the installed methods {sorted(methods)}",
            file=sys.stderr,
        )
        return 2
    fn = methods[cmd].load()
    saved = sys.argv
    sys.argv = [f"latent-ebm-{cmd}", *rest]
    try:
        result = fn()
    finally:
        sys.argv = saved
    return result if isinstance(result, int) else 0
