"""The command-line contract every package's console script keeps (issue: errors a user can act on).

Subclass :class:`CLIContract` in a package's ``tests/test_cli.py``::

    class TestCLIErrors(CLIContract):
        main = staticmethod(latent_ebm.ltm.cli.main)
        config = "tiny"
        bad_args = ((["--model.fast.lr", "-1"], "model.fast.lr=-1.0 is not allowed"), ...)

Each bad command ends with exit status 2 and ONE line on stderr, ``error: ...``, naming the user's
own option; a typo'd flag gets "did you mean"; a missing file, random bytes and a crafted pickle
given as ``--ckpt_path`` are refused in one line (the pickle never runs: checkpoints load with
``weights_only=True``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

__all__ = ["CLIContract", "assert_usage_error", "write_crafted_checkpoint"]


@contextlib.contextmanager
def _no_leftover_process_group() -> Iterator[None]:
    """Run in-process Lightning with ``strategy: ddp`` on one device without leaking its process
    group and ``MASTER_PORT`` (whose listening socket would make a later DDP test's rendezvous
    fail with EADDRINUSE)."""
    keys = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK")
    saved = {k: os.environ.get(k) for k in keys}
    try:
        yield
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def assert_usage_error(main: Callable[..., Any], argv: Sequence[str], expected: str,
                       capsys: pytest.CaptureFixture[str]) -> str:
    """``main(argv)`` exits 2 with one stderr line ``error: ...`` containing ``expected``; returns it."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("Seed set to")]
    assert info.value.code == 2, f"{argv}: exit status {info.value.code}, stderr {err!r}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{argv}: stderr is not one error line: {err!r}"
    assert expected in lines[0], f"{argv}: {expected!r} not in {lines[0]!r}"
    return lines[0]


class _Payload:
    """Unpickling this calls ``os.makedirs(marker)``: what a crafted checkpoint could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def write_crafted_checkpoint(path: Path) -> Path:
    """A checkpoint file whose pickle calls ``os.makedirs(<path>.ran)`` when loaded unsafely."""
    torch.save({"state_dict": {}, "hyper_parameters": {}, "payload": _Payload(Path(f"{path}.ran"))}, path)
    return path


class CLIContract:
    """pytest base class for a package's console script: set ``main`` (the package's
    ``cli.main``), ``config`` (a shipped config that fits in seconds) and ``bad_args``
    (extra flags, expected text of the one-line error)."""

    main: Callable[..., Any]
    config: str | None = "tiny"  # None: the command has no shipped configs
    bad_args: tuple[tuple[list[str], str], ...] = ()
    # per shipped config, flags for its one-step run: offline data where it names a download,
    # smaller batches; the config's own model, loggers and callbacks stay
    config_overrides: dict[str, list[str]] = {}

    ONE_STEP = ["--trainer.max_steps", "1", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "1",
                "--trainer.limit_val_batches", "1", "--trainer.val_check_interval", "1",
                "--trainer.check_val_every_n_epoch", "1", "--trainer.num_sanity_val_steps", "0",
                "--trainer.accelerator", "cpu", "--trainer.devices", "1"]

    @classmethod
    def _configs(cls) -> list[str]:
        from latent_ebm.core.cli import available_configs

        package = cls.main.__module__.rsplit(".", 1)[0] + ".configs"
        return list(available_configs(package))

    @classmethod
    def pytest_generate_tests(cls, metafunc: pytest.Metafunc) -> None:
        """One test per shipped config, so that ``pytest -n`` spreads them over workers."""
        if "shipped_config" in metafunc.fixturenames:
            names = cls._configs() if cls.config is not None else []
            metafunc.parametrize("shipped_config", names or [None], ids=names or ["none"])

    def test_shipped_config_runs_one_step(self, shipped_config, tmp_path, capsys):
        """The shipped config fits one step and validates once with its own loggers and
        callbacks, then the run's checkpoint tests: a crash like a logger clash cannot ship."""
        if shipped_config is None:
            pytest.skip("this command ships no configs")
        main, name = type(self).main, shipped_config
        root = tmp_path / name
        extra = self.config_overrides.get(name, [])
        with _no_leftover_process_group():  # a paper config's strategy: ddp on one device
            main(["fit", "--config", name, "--trainer.default_root_dir", str(root), *self.ONE_STEP, *extra])
        assert list((root / "checkpoints").rglob("last.ckpt")), f"config {name}: no checkpoint written"
        with _no_leftover_process_group():
            main(["test", "--config", name, "--trainer.default_root_dir", str(root), "--ckpt_path", "last",
                  "--trainer.limit_test_batches", "1", "--trainer.accelerator", "cpu", "--trainer.devices", "1",
                  *extra])
        err = capsys.readouterr().err
        assert "fit finished" in err and "test finished" in err, f"config {name}: {err[-2000:]}"

    def _argv(self, tmp_path: Path, *extra: str, subcommand: str = "fit") -> list[str]:
        config = ["--config", self.config] if self.config else []
        return [subcommand, *config, "--trainer.default_root_dir", str(tmp_path), *extra]

    def test_bad_values_are_one_line_errors(self, tmp_path, capsys):
        if not self.bad_args:
            pytest.skip("this package lists no bad_args")
        for flags, expected in self.bad_args:
            assert_usage_error(type(self).main, self._argv(tmp_path, *flags), expected, capsys)

    def test_a_typo_gets_did_you_mean(self, tmp_path, capsys):
        line = assert_usage_error(type(self).main, self._argv(tmp_path, "--trainer.max_step", "3"),
                                  "unrecognized option --trainer.max_step", capsys)
        assert "did you mean --trainer.max_steps?" in line

    def test_bad_checkpoints_are_refused_in_one_line(self, tmp_path, capsys):
        main = type(self).main
        missing = tmp_path / "missing.ckpt"
        assert_usage_error(main, self._argv(tmp_path, "--ckpt_path", str(missing), subcommand="test"),
                           "no such file", capsys)
        junk = tmp_path / "junk.ckpt"
        junk.write_bytes(os.urandom(2048))
        line = assert_usage_error(main, self._argv(tmp_path, "--ckpt_path", str(junk), subcommand="test"),
                                  "is not a valid checkpoint", capsys)
        assert "weights_only=False" not in line
        crafted = write_crafted_checkpoint(tmp_path / "crafted.ckpt")
        line = assert_usage_error(main, self._argv(tmp_path, "--ckpt_path", str(crafted), subcommand="test"),
                                  "is not a valid checkpoint", capsys)
        assert "weights_only=False" not in line
        assert not Path(f"{crafted}.ran").exists(), "the crafted checkpoint's code ran"
