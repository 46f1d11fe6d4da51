"""The package template: LEBM (Pang, Han, Nijkamp, Zhu, Wu, NeurIPS 2020; arXiv 2006.08205) on a
2-d toy. ``TemplateModule`` (the model, on the core's ``LatentEBMModule``), ``TemplateDataModule``
(its data, generated offline). Copy it to start a method package (``scripts/new_package.py``)."""

from .data import TemplateDataModule
from .model import TemplateModule

__all__ = ["TemplateDataModule", "TemplateModule"]
