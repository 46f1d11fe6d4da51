"""The LightningCLI factory and the ``latent-ebm`` umbrella command, run for real on a toy model."""

import sys
import textwrap

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import (
    ModelCheckpoint,
    ProgressBar,
    RichProgressBar,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from latent_ebm.core import cli as core_cli
from latent_ebm.core.checks import check_int
from latent_ebm.core.cli import UsageError, _lightning, main, resolve_config, umbrella
from latent_ebm.core.cli._configs import resolve_config_args
from latent_ebm.core.testing.cli import CLIContract, write_crafted_checkpoint

W_TRUE = torch.tensor([[2.0], [-3.0]])


class ToyRegression(L.LightningModule):
    """Linear regression; validation takes an input gradient the way Langevin inference does."""

    def __init__(self, lr: float = 0.1, hidden: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Linear(2, 1, bias=False)
        self.val_inference_mode: list[bool] = []
        self.val_input_grad_ok: list[bool] = []
        self.start_epochs: list[int] = []

    def on_train_start(self) -> None:
        self.start_epochs.append(self.current_epoch)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.val_inference_mode.append(torch.is_inference_mode_enabled())
        with torch.enable_grad():
            xg = x.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(self.net(xg).sum(), xg)
        self.val_input_grad_ok.append(torch.allclose(g, self.net.weight.expand_as(g)))
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def test_step(self, batch, batch_idx):
        x, y = batch
        self.log("test_loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class ToyData(L.LightningDataModule):
    def __init__(self, n: int = 128, batch_size: int = 32, seed: int = 0) -> None:
        super().__init__()
        check_int("batch_size", batch_size, low=1)
        self.save_hyperparameters()

    def setup(self, stage: str) -> None:
        g = torch.Generator().manual_seed(self.hparams.seed)
        x = torch.randn(self.hparams.n, 2, generator=g)
        self.ds = TensorDataset(x, x @ W_TRUE)

    def _loader(self, shuffle=False):
        return DataLoader(self.ds, batch_size=self.hparams.batch_size, shuffle=shuffle)

    def train_dataloader(self):
        return self._loader(shuffle=True)

    def val_dataloader(self):
        return self._loader()

    def test_dataloader(self):
        return self._loader()


TINY = """\
trainer:
  max_epochs: 3
  enable_progress_bar: false
  enable_model_summary: false
  log_every_n_steps: 1
model:
  lr: 0.2
data:
  batch_size: 16
"""


@pytest.fixture
def config_pkg(tmp_path, monkeypatch):
    """A package ``toycfg.configs`` on sys.path shipping ``tiny.yaml`` and ``small.yml``."""
    pkg = tmp_path / "pkgs" / "toycfg" / "configs"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "tiny.yaml").write_text(TINY)
    (pkg / "small.yml").write_text(TINY.replace("max_epochs: 3", "max_epochs: 1"))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    for mod in [m for m in sys.modules if m.startswith("toycfg")]:
        monkeypatch.delitem(sys.modules, mod)
    return "toycfg.configs"


def run(root, *args, config_package=None):
    return main(
        ToyRegression,
        ToyData,
        config_package=config_package,
        args=[*args, "--trainer.default_root_dir", str(root)],
    )


def test_fit_then_resume_then_test_with_shipped_config(tmp_path, config_pkg):
    root = tmp_path / "run"
    cli = run(root, "fit", "--config", "tiny", config_package=config_pkg)
    trainer, model = cli.trainer, cli.model
    assert trainer.current_epoch == 3 and model.hparams.lr == 0.2  # the YAML was applied
    assert cli.datamodule.hparams.batch_size == 16
    # Trainer defaults set by the factory
    assert cli.config["fit"]["trainer"]["inference_mode"] is False
    assert (
        trainer.validate_loop.inference_mode is False and trainer.test_loop.inference_mode is False
    )
    assert model.val_inference_mode and not any(model.val_inference_mode)
    assert all(model.val_input_grad_ok)
    assert {type(lg) for lg in trainer.loggers} == {TensorBoardLogger, CSVLogger}
    ckpts = [c for c in trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert len(ckpts) == 1 and ckpts[0].save_last
    last = root / "checkpoints" / "version_0" / "last.ckpt"  # one folder per run
    assert last.is_file()
    assert (root / "csv" / "version_0" / "metrics.csv").is_file()
    assert any((root / "tensorboard" / "version_0").glob("events.out.tfevents.*"))
    assert (root / "tensorboard" / "version_0" / "config.yaml").is_file()
    steps_per_epoch = trainer.global_step // 3

    # resume: the run continues at epoch 3 from last.ckpt
    cli2 = run(
        root,
        "fit",
        "--config",
        "tiny",
        "--ckpt_path",
        "last",
        "--trainer.max_epochs",
        "5",
        config_package=config_pkg,
    )
    assert cli2.model.start_epochs == [3]
    assert cli2.trainer.global_step == 5 * steps_per_epoch

    # test from the checkpoint: the regression was learned (initial loss is about |w|^2 = 13)
    cli3 = run(
        root, "test", "--config", "tiny", "--ckpt_path", str(last), config_package=config_pkg
    )
    assert cli3.trainer.callback_metrics["test_loss"].item() < 1e-2
    assert torch.allclose(cli3.model.net.weight.T, W_TRUE, atol=0.05)


def test_validate_runs_with_config_path_and_flags(tmp_path):
    cfg = tmp_path / "my.yaml"
    cfg.write_text(TINY)
    cli = run(tmp_path / "v", "validate", "--config", str(cfg), "--model.lr", "0.5")
    assert cli.model.hparams.lr == 0.5
    assert cli.model.val_inference_mode == [False] * 8  # 128 samples / 16 per batch
    assert "val_loss" in cli.trainer.callback_metrics


def test_bad_config_name_lists_the_shipped_ones(tmp_path, config_pkg, capsys):
    with pytest.raises(SystemExit) as info:
        run(tmp_path, "fit", "--config", "tinny", config_package=config_pkg)
    msg = capsys.readouterr().err
    assert info.value.code == 2 and msg.startswith("error: ")
    assert "tinny" in msg and "'small'" in msg and "'tiny'" in msg
    with pytest.raises(ValueError, match="config_package='no_such_pkg_xyz'"):
        resolve_config("tiny", "no_such_pkg_xyz")
    with pytest.raises(ValueError, match="ships no named configs"):
        resolve_config("tiny", None)


def test_config_arguments_are_resolved_in_every_form(tmp_path, config_pkg):
    tiny = resolve_config("tiny", config_pkg)
    assert tiny.endswith("tiny.yaml")
    assert resolve_config("tiny.yaml", config_pkg) == tiny
    assert resolve_config("small", config_pkg).endswith("small.yml")
    folder = resolve_config("tiny", tmp_path / "pkgs" / "toycfg" / "configs")  # a folder works too
    assert folder == tiny
    path = tmp_path / "x.yaml"
    path.write_text("{}")
    got = resolve_config_args(
        ["fit", "-c", "tiny", "--config=small", "--config", str(path), "--model.lr", "1"],
        config_pkg,
    )
    assert got[2] == tiny and got[3] == "--config=" + resolve_config("small", config_pkg)
    assert got[5] == str(path) and got[6:] == ["--model.lr", "1"]
    assert resolve_config("{trainer: {max_epochs: 1}}", config_pkg).startswith("{")  # inline YAML


@pytest.mark.parametrize("tty", [True, False])
def test_rich_progress_bar_on_terminals_only(tmp_path, monkeypatch, tty):
    monkeypatch.setattr(_lightning, "_stderr_is_tty", lambda: tty)
    cli = main(
        ToyRegression, ToyData, args=["--trainer.default_root_dir", str(tmp_path)], run=False
    )
    bars = [type(c) for c in cli.trainer.callbacks if isinstance(c, ProgressBar)]
    assert bars == [RichProgressBar if tty else TQDMProgressBar]
    assert cli.trainer.predict_loop.inference_mode is False
    assert cli.config["seed_everything"] == 0


def test_console_script_reads_sys_argv(tmp_path, config_pkg, monkeypatch):
    argv = [
        "latent-ebm-toy",
        "validate",
        "--config",
        "tiny",
        "--trainer.default_root_dir",
        str(tmp_path),
    ]
    monkeypatch.setattr(sys, "argv", argv)
    cli = main(ToyRegression, ToyData, config_package=config_pkg, return_cli=True)
    assert cli.model.hparams.lr == 0.2 and "val_loss" in cli.trainer.callback_metrics
    assert sys.argv == argv  # restored
    # as the console script calls it: sys.exit(main()) must see None (status 0), not the CLI (status 1)
    assert main(ToyRegression, ToyData, config_package=config_pkg) is None


def test_default_root_dir_names_the_method():
    assert _lightning.default_root_dir(ToyRegression) == "runs/toyregression"
    fake = type("M", (), {"__module__": "latent_ebm.lebm.model"})
    assert _lightning.default_root_dir(fake) == "runs/lebm"
    assert (
        _lightning.default_root_dir(L.LightningModule, "latent_ebm.ode_lebm.configs")
        == "runs/ode_lebm"
    )


@pytest.fixture
def installed_method(tmp_path, monkeypatch):
    """A distribution ``latent-ebm-toy`` 1.2.3 on sys.path with a ``latent_ebm.methods`` entry point."""
    site = tmp_path / "site"
    info = site / "latent_ebm_toy-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: latent-ebm-toy\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[latent_ebm.methods]\ntoy = toy_method.cli:main\n")
    (site / "toy_method" / "configs").mkdir(parents=True)
    (site / "toy_method" / "__init__.py").write_text("")
    (site / "toy_method" / "configs" / "__init__.py").write_text("")
    (site / "toy_method" / "configs" / "tiny.yaml").write_text("trainer: {}\n")
    (site / "toy_method" / "cli.py").write_text(
        textwrap.dedent(
            """
            import sys
            calls = []
            def main():
                calls.append(list(sys.argv))
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    for mod in ("toy_method", "toy_method.cli", "toy_method.configs"):
        monkeypatch.delitem(sys.modules, mod, raising=False)
    return site


def test_umbrella_lists_and_dispatches_installed_methods(installed_method, capsys):
    assert umbrella(["list"]) == 0
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if line.startswith("toy ")]
    assert row.split() == ["toy", "latent-ebm-toy", "1.2.3", "tiny"]  # its shipped configs
    assert umbrella(["toy", "fit", "--config", "tiny"]) == 0
    from toy_method import cli as toy_method_cli

    assert toy_method_cli.calls == [["latent-ebm-toy", "fit", "--config", "tiny"]]
    assert umbrella(["data", "path"]) == 0 and capsys.readouterr().out.strip()
    assert umbrella(["nope"]) == 2
    assert "'toy'" in capsys.readouterr().err


def test_umbrella_list_with_patched_entry_points(monkeypatch, capsys):
    from importlib.metadata import EntryPoint, EntryPoints

    eps = EntryPoints([EntryPoint("zeta", "pkg.cli:main", "latent_ebm.methods")])
    monkeypatch.setattr(core_cli.importlib.metadata, "entry_points", lambda group: eps)
    assert umbrella(["list"]) == 0
    assert "zeta" in capsys.readouterr().out
    monkeypatch.setattr(core_cli.importlib.metadata, "entry_points", lambda group: EntryPoints([]))
    assert umbrella(["list"]) == 0
    assert "no latent-ebm methods installed" in capsys.readouterr().out
    assert umbrella([]) == 0 and "latent-ebm list" in capsys.readouterr().out


# --- errors a user can act on ----------------------------------------------------------------


class TestToyCLIErrors(CLIContract):
    """The core's CLI contract on the toy model: one-line errors, exit 2, did-you-mean, safe
    checkpoint loading."""

    config = None
    bad_args = (
        (["--model.lr", "abc"], "model.lr='abc' is not allowed; it must be a number"),
        (["--data.batch_size", "0"], "data.batch_size=0 is not allowed"),
        (["--modl.lr", "0.1"], "unrecognized option --modl.lr"),
    )

    @staticmethod
    def main(args):
        return main(ToyRegression, ToyData, args=args)


def test_debug_env_keeps_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EBM_DEBUG", "1")
    with pytest.raises(UsageError, match="data.batch_size=0"):
        main(ToyRegression, ToyData, args=["fit", "--data.batch_size", "0", "--trainer.default_root_dir", str(tmp_path)])


def test_crafted_checkpoint_is_refused_by_lightning_too(tmp_path):
    """weights_only=True all the way: the crafted pickle's code never runs."""
    path = write_crafted_checkpoint(tmp_path / "crafted.ckpt")
    with pytest.raises(Exception, match="Weights only load failed"):
        torch.load(path, weights_only=True)
    assert not (tmp_path / "crafted.ckpt.ran").exists()
