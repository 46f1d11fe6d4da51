"""Shared by the benchmarks: the machine tag in result names, JSON writing, targets."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import torch

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """``cpu`` or the CUDA device's short name (``h100``...)."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0).split()[-1].lower().replace(" ", "")
    return "cpu"


def target(name: str, value: float, goal: str, met: bool) -> dict[str, Any]:
    return {"name": name, "value": value, "goal": goal, "met": bool(met)}


def write_json(stem: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{stem}-{machine()}.json"
    payload = {"machine": machine(), "platform": platform.platform(), "torch": torch.__version__, **payload}
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path
