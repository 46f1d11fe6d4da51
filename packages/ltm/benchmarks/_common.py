"""Shared helpers of the LTM benchmarks: device tag, JSON + PNG output, a quiet Trainer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lightning as L
import torch

RESULTS = Path(__file__).parent / "results"


def device_tag() -> str:
    """The machine in result file names: ``cpu`` or the GPU's name (``nvidia-h100-80gb-hbm3``)."""
    if not torch.cuda.is_available():
        return "cpu"
    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name().lower()).strip("-")


def write_json(name: str, payload: dict, out_dir: Path = RESULTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-{device_tag()}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path


def png_path(name: str, out_dir: Path = RESULTS) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir / f"{name}-{device_tag()}.png"


def quiet_trainer(**kw) -> L.Trainer:
    base = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                inference_mode=False, accelerator="auto", devices=1)
    return L.Trainer(**{**base, **kw})
