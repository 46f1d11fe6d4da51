"""CLI fit/test/predict on the tiny configs, grouped settings from flags, a resume through the CLI
with the data module's epoch order and the EMA (bit-exact against the uninterrupted run; the
module-level contract is in test_contract.py), every shipped config for one step, and the demo's
first validation training the FID classifier."""

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from latent_ebm.cdrl import CDRLModule
from latent_ebm.cdrl.cli import main
from latent_ebm.core.data import is_available
from latent_ebm.core.testing.cli import CLIContract


def _last(root: str) -> Path:
    """The newest last.ckpt the CLI wrote under ``<root>/checkpoints`` (one folder per run or not)."""
    found = sorted((Path(root) / "checkpoints").rglob("last.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    assert found, f"no last.ckpt under {root}/checkpoints"
    return found[-1]


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    root = str(tmp_path)
    main(["fit", "--config", "tiny", "--trainer.default_root_dir", root])
    last = _last(root)
    assert list((tmp_path / "csv").rglob("metrics.csv")), "tiny keeps its logger on"
    cli = main(["test", "--config", "tiny", "--trainer.default_root_dir", root, "--ckpt_path", str(last)])
    mmd = float(cli.trainer.callback_metrics["test/mmd"])
    assert mmd == mmd and mmd < 1.0  # finite MMD of samples against held-out data
    assert cli.datamodule.test_set is not None and cli.datamodule.val_set is None  # test data, not validation
    capsys.readouterr()
    main(["predict", "--config", "tiny", "--trainer.default_root_dir", root, "--ckpt_path", "last", "--n", "10"])
    out = tmp_path / "predictions"
    (csv,) = out.rglob("samples.csv")
    lines = csv.read_text().splitlines()
    assert lines[0] == "x0,x1" and len(lines) == 1 + 10  # header + --n samples
    assert all(math.isfinite(float(v)) for line in lines[1:] for v in line.split(","))
    (png,) = out.rglob("samples.png")
    assert Image.open(png).size == (400, 400)  # the scatter
    (pt,) = out.rglob("samples.pt")
    assert torch.load(pt, weights_only=True)["x"].shape == (10, 2)
    err = capsys.readouterr().err
    assert "predict finished" in err and all(str(p) in err for p in (png, csv, pt))


def test_predict_writes_an_image_grid_one_column_per_class(tmp_path):
    """Images: a PNG grid (a class-conditional model: column j holds class j) and the tensors."""
    m = CDRLModule(data_shape=(1, 8, 8), num_classes=3, ebm_width=4, ebm_mult=(1,), init_width=4, init_mult=(1,),
                   revision={"n_steps": 1})
    batch = {"x": torch.zeros(7, 1, 8, 8), "y": torch.zeros(7, dtype=torch.long), "index": torch.arange(7)}
    out = m.predict_step(batch, 0)
    assert out["x"].shape == (7, 1, 8, 8) and out["y"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    png, pt = m.write_predictions([out, out], tmp_path)
    assert png.name == "samples.png" and Image.open(png).size == (3 * 10 + 2, 5 * 10 + 2)  # 3 per row, 8 px + 2 pad
    saved = torch.load(pt, weights_only=True)
    assert saved["x"].shape == (14, 1, 8, 8) and saved["y"].tolist() == out["y"].tolist() * 2


def test_cli_fit_tiny_drl_with_group_flags(tmp_path):
    cli = main(["fit", "--config", "tiny-drl", "--trainer.default_root_dir", str(tmp_path),
                "--trainer.max_epochs", "1", "--model.revision.n_steps", "4", "--model.energy_optim.lr", "2e-3"])
    m = cli.model
    assert m.initializer is None and cli.trainer.global_step == 5
    # a flag changes one field; the config's and the constructor default's other fields stay
    assert m.revision_schedule.n_steps == 4 and m.revision_schedule.step_size == 1.0
    assert m.energy_optim.lr == 2e-3 and m.energy_optim.warmup_steps == 5 and m.energy_optim.grad_clip == 1.0
    assert len(cli.trainer.optimizers) == 1


def test_resume_restores_ema_and_matches_uninterrupted_run(tmp_path):
    root = str(tmp_path / "interrupted")
    main(["fit", "--config", "tiny", "--trainer.default_root_dir", root, "--trainer.max_epochs", "1"])
    ckpt = _last(root)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["global_step"] == 10  # Lightning counts optimiser steps: 2 per iteration
    assert len(state["optimizer_states"]) == 2
    raw_saved = {k[len("ebm_ema."):]: v for k, v in state["state_dict"].items() if k.startswith("ebm_ema.")}
    # EMA differs from the live weights (it really is an average) and is in the checkpoint
    live = {k[len("ebm."):]: v for k, v in state["state_dict"].items() if k.startswith("ebm.")}
    assert any(not torch.equal(raw_saved[k], live[k]) for k in live if "original" in k or "weight" in k)
    loaded = CDRLModule.load_from_checkpoint(ckpt, weights_only=True)
    assert loaded.iterations == 5 and int(loaded.ema_updates) == 5  # the EMA's warm-up count
    for k, v in raw_saved.items():
        torch.testing.assert_close(loaded.ebm_ema.state_dict()[k], v)
    cli = main(["fit", "--config", "tiny", "--trainer.default_root_dir", root, "--trainer.max_epochs", "2",
                "--ckpt_path", str(ckpt)])
    assert cli.trainer.global_step == 20 and cli.model.iterations == 10 and int(cli.model.ema_updates) == 10
    after = cli.model.ebm_ema.state_dict()
    assert any(not torch.equal(after[k], v) for k, v in raw_saved.items())
    # the uninterrupted 2-epoch run ends in the same state, bit for bit (validation sampling in
    # between draws from the global RNG, which no training draw uses)
    full = main(["fit", "--config", "tiny", "--trainer.default_root_dir", str(tmp_path / "full"),
                 "--trainer.max_epochs", "2"])
    resumed_sd, full_sd = cli.model.state_dict(), full.model.state_dict()
    assert resumed_sd.keys() == full_sd.keys()
    for k, v in full_sd.items():
        assert torch.equal(resumed_sd[k], v), k
    assert torch.equal(cli.model.rng.get_state(), full.model.rng.get_state())
    for a, b in zip(cli.trainer.optimizers, full.trainer.optimizers):
        for sa, sb in zip(a.state_dict()["state"].values(), b.state_dict()["state"].values()):
            assert all(torch.equal(sa[n], sb[n]) for n in sa)


FASHION = is_available("fashion-mnist")
# demo, drl-demo: the config as shipped; validation samples 8 images with one Langevin step per level
# (sample_steps: sampling only, training keeps K)
SAMPLE_FEW = ["--model.eval_samples", "8", "--model.sample_steps", "1"]
DEMO = SAMPLE_FEW if FASHION else [  # where Fashion-MNIST is absent: offline images, no FID
    "--data.dataset", "synthetic", "--model.fid_dataset", "null", *SAMPLE_FEW]
# paper, drl-paper: the configs as shipped (strategy, loggers, callbacks, the DDPM UNet initializer)
# on offline images of CIFAR-10's shape (CIFAR-10 is a download), batch 1, validation sampling 2
# images with one Langevin step per level, and narrow networks (EBM width 32 with one block per
# resolution, DDPM UNet width 32 with one block): the paper's 34.8M-parameter EBM took 5-9 min of a
# shared CPU here; both full networks are built from the YAML and counted in test_fidelity.py. The Inception FID needs torch-fidelity and its weights (a download;
# its wiring is tested in test_metrics.py).
PAPER = ["--data.dataset", "synthetic-rgb", "--data.batch_size", "1", "--data.num_workers", "0",
         "--data.n_train", "16", "--data.n_val", "4", "--model.eval_samples", "2", "--model.sample_steps", "1",
         "--model.ebm_width", "32", "--model.ebm_blocks", "1", "--model.init_width", "32", "--model.init_blocks", "1",
         "--model.fid_inception", "false"]


class TestCDRLCLIContract(CLIContract):
    """Every shipped config runs one step with its own loggers and callbacks; bad values, typos and
    bad checkpoints end in one line with exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    config_overrides = {"demo": DEMO, "drl-demo": DEMO, "paper": PAPER, "drl-paper": PAPER}
    bad_args = (
        (["--model.revision.n_steps", "-3"], "model.revision.n_steps=-3 is not allowed"),
        (["--model.energy_optim.lr", "0"], "model.energy_optim.lr=0.0 is not allowed"),
        (["--model.ema_decay", "1.0"], "model.ema_decay=1.0 is not allowed"),
        (["--data.batch_size", "0"], "data.batch_size=0 is not allowed"),
        (["--model.n_levls", "3"], "did you mean --model.n_levels?"),
        (["--model.n_steps", "-3"], "unrecognized option --model.n_steps"),  # K is revision.n_steps
        (["--data.n_test", "1"], "data.n_test=1 is not allowed"),
        (["--data.predict_n", "0"], "data.predict_n=0 is not allowed"),
    )

    @pytest.fixture(autouse=True)
    def _quick_fid(self, quick_fid_classifier):
        """The demos' first validation trains the FID classifier: on a few images, in a tmp folder."""
        self.artifacts = quick_fid_classifier

    def test_shipped_config_runs_one_step(self, shipped_config, tmp_path, capsys):
        """As the core's, and the demo's first validation trained its FID classifier (issue 26: it
        could not, under Lightning's validation) into the empty cache."""
        super().test_shipped_config_runs_one_step(shipped_config, tmp_path, capsys)
        if FASHION and shipped_config == "demo":
            assert (self.artifacts / "cdrl" / "fashion-mnist" / "fid-classifier-32.pt").is_file()
