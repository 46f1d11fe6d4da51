"""``latent-ebm-dso design --config tiny|demo|paper|<path>`` runs the dual-space design loop;
``latent-ebm-dso fit|validate|test|predict --config tiny|demo|paper`` trains the LPT it starts
from (the core's CLI, as ``latent-ebm-lpt-mol``)."""

from __future__ import annotations

import sys

from latent_ebm.core.cli import main as core_main

from .data import DSODataModule
from .model import DSOModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-dso`` (and ``latent-ebm dso``); returns the CLI (or the design
    run's summary) when ``args`` is given (tests)."""
    argv = list(sys.argv[1:] if args is None else args)
    if argv[:1] == ["design"]:
        from .run import design_main

        try:
            summary = design_main(argv[1:])
        except ValueError as err:  # the checks' one-line messages
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        return summary if args is not None else None
    return core_main(DSOModule, DSODataModule, config_package="latent_ebm.dso.configs", args=args)


if __name__ == "__main__":
    main()
