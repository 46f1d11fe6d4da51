"""Hatch build hook: ship the kernel sources ``csrc/`` as package data.

The sources live at the repository root (``../csrc`` from here). An sdist carries them as
``csrc/`` at its root, a wheel as ``latent_ebm/core/csrc`` (where ``ops/_build.py`` looks
first). This hook picks whichever copy exists, so a wheel builds from the checkout and from an
unpacked sdist alike. Editable installs ship nothing: ``ops/_build.py`` then finds the
repository's ``csrc/`` itself, so edits to the kernels are picked up.
"""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CsrcBuildHook(BuildHookInterface):
    PLUGIN_NAME = "csrc"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name == "wheel" and version == "editable":
            return
        root = Path(self.root)
        candidates = [root.parent / "csrc", root / "csrc"]  # checkout, unpacked sdist
        source = next((p for p in candidates if (p / "philox.h").is_file()), None)
        if source is None:
            raise FileNotFoundError(
                "kernel sources not found: looked for philox.h in "
                + ", ".join(str(p) for p in candidates)
            )
        target = "csrc" if self.target_name == "sdist" else "latent_ebm/core/csrc"
        build_data["force_include"][str(source)] = target
