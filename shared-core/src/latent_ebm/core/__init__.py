"""latent-ebm core: Langevin samplers and kernels, latent priors, base LightningModules, data, CLI.

Import the pieces you need (``latent_ebm.core.samplers``, ``.priors``, ``.data``, ``.cli``, ...);
this module itself loads nothing heavy.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("latent-ebm-core")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
