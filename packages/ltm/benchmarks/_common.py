"""Shared helpers of the LTM benchmarks: device tag, JSON + PNG output, a quiet Trainer."""

from __future__ import annotations

import json
from pathlib import Path

import lightning as L
import torch

RESULTS = Path(__file__).parent / "results"


def device_tag() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def write_json(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{device_tag()}.json"
    path.write_text(json.dumps(payload, indent=2))
    return path


def png_path(name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return RESULTS / f"{name}-{device_tag()}.png"


def quiet_trainer(**kw) -> L.Trainer:
    base = dict(logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                inference_mode=False, accelerator="auto", devices=1)
    return L.Trainer(**{**base, **kw})
