"""CLI fit/test on the tiny configs, grouped settings from flags, and a resume through the CLI with
the data module's epoch order and the EMA (bit-exact against the uninterrupted run; the
module-level contract is in test_contract.py)."""

from pathlib import Path

import torch

from latent_ebm.cdrl import CDRLModule
from latent_ebm.cdrl.cli import main
from latent_ebm.core.testing.cli import CLIContract


def _last(root: str) -> Path:
    """The newest last.ckpt the CLI wrote under ``<root>/checkpoints`` (one folder per run or not)."""
    found = sorted((Path(root) / "checkpoints").rglob("last.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    assert found, f"no last.ckpt under {root}/checkpoints"
    return found[-1]


def test_cli_fit_and_test_tiny(tmp_path):
    root = str(tmp_path)
    main(["fit", "--config", "tiny", "--trainer.default_root_dir", root])
    last = _last(root)
    cli = main(["test", "--config", "tiny", "--trainer.default_root_dir", root, "--ckpt_path", str(last)])
    mmd = float(cli.trainer.callback_metrics["test/mmd"])
    assert mmd == mmd and mmd < 1.0  # finite MMD of samples against held-out data


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
    assert loaded.iterations == 5
    for k, v in raw_saved.items():
        torch.testing.assert_close(loaded.ebm_ema.state_dict()[k], v)
    cli = main(["fit", "--config", "tiny", "--trainer.default_root_dir", root, "--trainer.max_epochs", "2",
                "--ckpt_path", str(ckpt)])
    assert cli.trainer.global_step == 20 and cli.model.iterations == 10
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


class TestCDRLCLIErrors(CLIContract):
    """Bad values, typos and bad checkpoints end in one line with exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    bad_args = (
        (["--model.revision.n_steps", "-3"], "model.revision.n_steps=-3 is not allowed"),
        (["--model.energy_optim.lr", "0"], "model.energy_optim.lr=0.0 is not allowed"),
        (["--model.ema_decay", "1.0"], "model.ema_decay=1.0 is not allowed"),
        (["--data.batch_size", "0"], "data.batch_size=0 is not allowed"),
        (["--model.n_levls", "3"], "did you mean --model.n_levels?"),
    )
