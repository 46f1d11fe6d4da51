"""Start a method package from ``packages/_template``: ``python scripts/new_package.py <method>``.

Copies the template to ``packages/<method>`` and renames it throughout: the import package
``latent_ebm.template`` -> ``latent_ebm.<method_with_underscores>``, the classes ``Template*`` ->
``<Method>*`` (CamelCase of the name), the distribution and console script
``latent-ebm-template`` -> ``latent-ebm-<method>``, and the ``latent_ebm.methods`` entry point.
Then replace the template's model with the method's (see ``docs/packages.md``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "packages" / "_template"
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


def camel(name: str) -> str:
    """``lpt-rl`` -> ``LptRl``; ``nerf-lebm`` -> ``NerfLebm``."""
    return "".join(part.capitalize() for part in name.split("-"))


def rename(text: str, name: str) -> str:
    snake = name.replace("-", "_")
    text = text.replace("latent-ebm-template", f"latent-ebm-{name}").replace("latent-ebm template", f"latent-ebm {name}")
    text = text.replace("packages/_template", f"packages/{name}").replace("tests-_template", f"tests-{name}")
    text = text.replace("latent_ebm.template", f"latent_ebm.{snake}")
    text = re.sub(r"\btemplate = ", f"{name} = ", text)  # the entry point's key
    return text.replace("Template", camel(name))


def create(name: str, root: Path = ROOT) -> Path:
    """Copy and rename the template into ``root/packages/<name>``; returns the new folder."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"method={name!r} is not allowed; use lower-case letters, digits and '-' (e.g. lpt-rl)")
    dest = root / "packages" / name
    if dest.exists():
        raise ValueError(f"method={name!r} is not allowed; {dest} exists already")
    shutil.copytree(TEMPLATE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache"))
    src = dest / "src" / "latent_ebm"
    (src / "template").rename(src / name.replace("-", "_"))
    for path in sorted(dest.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".toml", ".md", ".yaml"}:
            path.write_text(rename(path.read_text(encoding="utf-8"), name), encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", help="the method's name, e.g. stanley or lpt-rl")
    args = parser.parse_args(argv)
    try:
        dest = create(args.method)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"created {dest.relative_to(ROOT)}; next: replace the model, then `nox -s tests-{args.method}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
