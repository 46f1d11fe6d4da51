"""The console script: fit / test / predict on the tiny config (a turntable PNG), resume equal to the
uninterrupted run, every shipped config for one step, one-line errors for bad values."""

import torch
from PIL import Image

from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.nerf_lebm.cli import main


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path)]
    main(["fit", "--config", "tiny", *root])
    ckpts = sorted(tmp_path.rglob("last.ckpt"))
    assert ckpts
    cli = main(["test", "--config", "tiny", *root, "--ckpt_path", str(ckpts[-1])])
    assert 0 < float(cli.trainer.callback_metrics["test/novel_psnr"]) < 60
    main(["predict", "--config", "tiny", *root, "--ckpt_path", "last", "--n", "3"])
    (png,) = tmp_path.rglob("turntable.png")
    assert Image.open(png).size == (4 * 18 + 2, 3 * 18 + 2)  # 4 azimuths x 3 samples of 16 px, 2 px pads
    err = capsys.readouterr().err
    assert "predict finished" in err and str(png) in err


def test_cli_resume_equals_uninterrupted(tmp_path):
    def run(root, *extra):
        return main(["fit", "--config", "tiny", "--trainer.default_root_dir", str(root), "--trainer.limit_val_batches",
                     "0", *extra])

    full = run(tmp_path / "a", "--trainer.max_epochs", "2")
    run(tmp_path / "b", "--trainer.max_epochs", "1")
    (ckpt,) = (tmp_path / "b").rglob("last.ckpt")
    resumed = run(tmp_path / "b", "--trainer.max_epochs", "2", "--ckpt_path", str(ckpt))
    for (name, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), name


# paper.yaml's model is big (64x64, 8x256 field, 64 samples): one step on 8 px images and 8 rays
PAPER = ["--data.image_size", "8", "--model.init_args.image_size", "8", "--model.init_args.rays_per_image", "4",
         "--model.init_args.n_samples", "4", "--data.batch_size", "2", "--data.n_train", "2", "--data.n_val", "2",
         "--data.held_out_views", "1", "--model.init_args.posterior.n_steps", "1",
         "--model.init_args.prior_langevin.n_steps", "1", "--model.init_args.eval_posterior.n_steps", "1"]
DEMO = ["--data.n_train", "16", "--data.n_val", "4", "--model.init_args.eval_posterior.n_steps", "2"]


class TestNeRFLEBMCLIContract(CLIContract):
    """Bad values, typos and bad checkpoints end in one line, exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    config_overrides = {"paper": PAPER, "demo": DEMO, "demo_vi": DEMO[:4]}
    bad_args = (
        (["--model.init_args.optim.lr", "-1"], "model.optim.lr=-1.0 is not allowed"),
        (["--model.init_args.obs_sigma", "0"], "obs_sigma=0.0 is not allowed"),
        (["--model.init_args.near", "13"], "near=13.0 is not allowed; it must be below far=12.5"),
        (["--data.image_size", "2"], "data.image_size=2 is not allowed"),
        (["--data.n_train", "0"], "data.n_train=0 is not allowed"),
    )
