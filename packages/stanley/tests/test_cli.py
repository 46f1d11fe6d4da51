"""The console script: fit / test / predict on the tiny config (a scatter PNG and a CSV), an image
model's predict grid, every shipped config for one step, one-line errors for bad values."""

import math

from PIL import Image

from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.stanley import StanleyModule
from latent_ebm.stanley.cli import main


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path)]
    main(["fit", "--config", "tiny", *root])
    ckpts = sorted(tmp_path.rglob("last.ckpt"))
    assert ckpts
    cli = main(["test", "--config", "tiny", *root, "--ckpt_path", str(ckpts[-1])])
    metrics = cli.trainer.callback_metrics
    kl, kl_unit = float(metrics["test/kl"]), float(metrics["test/kl_unit_temperature"])  # exp(f/eps^2), exp(f)
    assert math.isfinite(kl) and kl > 0 and 0 < kl_unit < 1.0
    main(["predict", "--config", "tiny", *root, "--ckpt_path", "last", "--n", "10"])
    (csv,) = tmp_path.rglob("samples.csv")
    lines = csv.read_text().splitlines()
    assert lines[0] == "x0,x1" and len(lines) == 1 + 10
    (png,) = tmp_path.rglob("samples.png")
    assert Image.open(png).size == (400, 400)
    err = capsys.readouterr().err
    assert "predict finished" in err and str(csv) in err and str(png) in err


def test_image_predictions_are_a_png_grid(tmp_path):
    m = StanleyModule(data_shape=(1, 32, 32), width=4, revision={"n_steps": 2})
    out = m.predict_step({"x": m.sample_proposals(4), "index": None}, 0)
    assert out.shape == (4, 1, 32, 32)
    (png,) = m.write_predictions([out, out], tmp_path)
    assert png.name == "samples.png" and Image.open(png).size == (3 * 34 + 2, 3 * 34 + 2)


# The demo as shipped; the paper config's model on offline RGB blobs (CIFAR-10 is a download).
PAPER = ["--data.dataset", "synthetic-rgb", "--data.batch_size", "2", "--data.num_workers", "0",
         "--data.n_train", "4", "--data.n_val", "2", "--data.n_test", "2", "--model.eval_samples", "2"]


class TestStanleyCLIContract(CLIContract):
    """Bad values, typos and bad checkpoints end in one line, exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    config_overrides = {"paper": PAPER, "demo": ["--model.eval_samples", "50"]}
    bad_args = (
        (["--model.revision.threshold", "0"], "model.revision.threshold=0.0 is not allowed"),
        (["--model.revision.threshold", "-1"], "model.revision.threshold=-1.0 is not allowed"),
        (["--model.revision.noise_scale", "-0.1"], "model.revision.noise_scale=-0.1 is not allowed"),
        (["--model.revision.n_steps", "0"], "model.revision.n_steps=0 is not allowed"),
        (["--model.data_shape", "[1, 28, 28]"], "model.data_shape=(1, 28, 28) is not allowed"),
        (["--model.sampler", "hmc"], "model.sampler"),
        (["--data.dataset", "cifar100"], "data.dataset"),
        (["--data.batch_size", "0"], "data.batch_size=0 is not allowed"),
        (["--model.widht", "3"], "did you mean --model.width?"),
    )
