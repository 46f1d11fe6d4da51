"""``scripts/new_package.py`` turns this template into a new package with every name changed."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "new_package.py"


@pytest.fixture
def new_package():
    if not SCRIPT.is_file():
        pytest.skip("scripts/new_package.py is not beside this checkout")
    spec = importlib.util.spec_from_file_location("new_package", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_copy_renames_package_classes_script_and_entry_point(new_package, tmp_path):
    (tmp_path / "packages").mkdir()
    dest = new_package.create("lpt-rl", tmp_path)
    assert (dest / "src" / "latent_ebm" / "lpt_rl" / "model.py").is_file()
    text = "\n".join(p.read_text() for p in dest.rglob("*") if p.is_file() and p.suffix in {".py", ".toml", ".yaml"})
    assert "latent_ebm.lpt_rl" not in text and "LptRlModule" not in text
    assert "class LptRlModule(LatentEBMModule)" in text and "from latent_ebm.lpt_rl import LptRlDataModule" in text
    pyproject = (dest / "pyproject.toml").read_text()
    assert 'latent-ebm-lpt-rl = "latent_ebm.lpt_rl.cli:main"' in pyproject
    assert 'lpt-rl = "latent_ebm.lpt_rl.cli:main"' in pyproject
    with pytest.raises(ValueError, match="method='Bad_Name'"):
        new_package.create("Bad_Name", tmp_path)
    with pytest.raises(ValueError, match="exists already"):
        new_package.create("lpt-rl", tmp_path)
