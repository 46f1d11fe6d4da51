"""``latent-ebm-lpt-rl fit|validate|test|predict --config tiny|demo|connect4|paper`` and
``latent-ebm-lpt-rl offline --config NAME --algo cql|iql``.

The model is chosen in the config by ``class_path``: ``latent_ebm.lpt_rl.LPTRLModule`` (the
method) or the same-size baselines ``latent_ebm.lpt_rl.SequenceBCModule`` (``condition``: ``none``
for behaviour cloning, ``return`` for Decision Transformer on the final return, ``rtg`` for
Decision Transformer with step rewards), e.g. ``--config tiny --model
latent_ebm.lpt_rl.SequenceBCModule --model.condition rtg``. ``offline`` fits d3rlpy's CQL / IQL on
the config's data (:mod:`.offline_cli`).
"""

from __future__ import annotations

import sys

import lightning as L

from latent_ebm.core.cli import main as core_main

from .data import LPTRLDataModule

__all__ = ["main"]


def main(args: list[str] | None = None):
    """Entry point of ``latent-ebm-lpt-rl`` (and ``latent-ebm lpt-rl``); returns the CLI (or, for
    ``offline``, the results dict) when ``args`` is given (tests)."""
    argv = list(sys.argv[1:] if args is None else args)
    if argv[:1] == ["offline"]:
        from .offline_cli import offline_main

        results = offline_main(argv[1:])
        return results if args is not None else None
    from . import baseline, model  # noqa: F401  (registers LPTRLModule / SequenceBCModule as subclasses)

    return core_main(L.LightningModule, LPTRLDataModule, config_package="latent_ebm.lpt_rl.configs", args=args,
                     subclass_mode_model=True)


if __name__ == "__main__":
    main()
