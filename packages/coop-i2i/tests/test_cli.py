"""The console script: fit / test / predict on the tiny config (three PNG grids), every shipped
config for one step (paper, adversarial-paper: shrunk nets on AFHQ's sample images at 32x32),
one-line errors for bad values."""

import pytest
from PIL import Image

from latent_ebm.coop_i2i.cli import main
from latent_ebm.core.testing.cli import CLIContract
from latent_ebm.core.testing.plugin import requires_dataset


def test_cli_fit_test_predict_tiny(tmp_path, capsys):
    root = ["--trainer.default_root_dir", str(tmp_path)]
    main(["fit", "--config", "tiny", *root, "--trainer.max_epochs", "1"])
    assert sorted(tmp_path.rglob("last.ckpt"))
    cli = main(["test", "--config", "tiny", *root, "--ckpt_path", "last"])
    assert "test/ref_psnr" in cli.trainer.callback_metrics and "test/energy_gap" in cli.trainer.callback_metrics
    main(["predict", "--config", "tiny", *root, "--ckpt_path", "last", "--n", "3"])
    (lat,) = tmp_path.rglob("latent_grid.png")
    (ref,) = tmp_path.rglob("reference_grid.png")
    (desc,) = tmp_path.rglob("descriptor_grid.png")
    # 16x16 images, pad 2: latent rows = 3 sources, cols 1 + 3 domains x 3 styles
    assert Image.open(lat).size == (10 * 18 + 2, 3 * 18 + 2)
    assert Image.open(ref).size == (4 * 18 + 2, 4 * 18 + 2)
    assert Image.open(desc).size == (4 * 18 + 2, 3 * 18 + 2)
    err = capsys.readouterr().err
    assert "predict finished" in err and str(lat) in err


def test_mismatched_image_size_ends_in_one_error_line(tmp_path, capsys):
    """Model and data sizes that differ are found at the first batch: exit 2, the last line names
    the shape (the core's fit summary, with its resume hint, comes before it)."""
    with pytest.raises(SystemExit) as info:
        main(["fit", "--config", "tiny", "--trainer.default_root_dir", str(tmp_path), "--model.image_size", "32"])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: model.x.shape=(16, 3, 16, 16) is not allowed; this model expects (B, 3, 32, 32)")


PAPER = ["--model.image_size", "32", "--data.image_size", "32", "--model.stages", "[8, 16, 32]",
         "--model.stage_steps", "[1, 1]", "--model.bottleneck", "4", "--model.dim_base", "4", "--model.max_dim", "8",
         "--model.mapping_hidden", "8", "--model.revision.n_steps", "2", "--data.batch_size", "4"]
ADV_PAPER = ["--model.image_size", "32", "--data.image_size", "32", "--model.bottleneck", "4", "--model.dim_base", "4",
             "--model.max_dim", "8", "--model.mapping_hidden", "8", "--model.revision.n_steps", "2",
             "--data.batch_size", "4"]
DEMO = ["--data.n_train", "64", "--data.n_val", "8", "--data.n_test", "8", "--data.batch_size", "8",
        "--model.revision.n_steps", "2"]


@requires_dataset("afhq-stargan-v2-samples")
@requires_dataset("mnist")
class TestCoopI2ICLIContract(CLIContract):
    """Bad values, typos and bad checkpoints end in one line, exit 2 (the core's CLI contract)."""

    main = staticmethod(main)
    config_overrides = {"paper": PAPER, "demo": DEMO, "adversarial-paper": ADV_PAPER}
    bad_args = (
        (["--model.revision.n_steps", "0"], "model.revision.n_steps=0 is not allowed"),
        (["--model.revision.noise_scale", "-0.1"], "model.revision.noise_scale=-0.1 is not allowed"),
        (["--model.n_domains", "0"], "model.n_domains=0 is not allowed"),
        (["--model.lambda_cyc", "-1"], "model.lambda_cyc=-1.0 is not allowed"),
        (["--data.dataset", "celeba"], "data.dataset"),
        (["--data.batch_size", "0"], "data.batch_size=0 is not allowed"),
        (["--model.lamda_sty", "3"], "did you mean --model.lambda_sty?"),
    )
