"""What the LPT benchmarks share: the labelled offline set, a pretrained (and per-property
fine-tuned) CPU-sized LPT cached between scripts, JSON + PNG output named with the machine."""
from __future__ import annotations

import copy
import hashlib
import inspect
import json
import os
import platform
import time
from pathlib import Path

import lightning as L
import torch

from latent_ebm.core.checks import check_choice
from latent_ebm.core.data import artifact_dir
from latent_ebm.lpt_mol import LPTMolDataModule, LPTMolModule

RESULTS = Path(__file__).parent / "results"

# A CPU-sized LPT: the paper's architecture (4 latent vectors through a 1-d UNet prior, a GPT
# cross-attending to them, property MLPs 100-100) made narrow enough for 2 CPU cores: latents of
# width 16 (paper 256), UNet base 8 with multipliers (1, 2) (paper 16, (1, 2, 4, 8)), width 64
# and 2 layers (paper 256, 3), and 3 posterior Langevin steps of size 1.0 during learning (paper
# 15 of 0.3). With 3 steps of 0.3 the chains barely leave their N(0, I) starts (drift 0.045 x the
# gradient a step against noise 0.15 a coordinate) and the decoder learned to ignore z: held-out
# token CE at posterior latents equalled that at prior latents (probe_latent_usage.py, gap 0.000
# after 900 steps, fresh or persistent chains). 3 steps of 1.0 travel further than the paper's 15 of
# 0.3 (drift 1.5 vs 0.68 x the gradient) at a fifth of the cost, and the gap opens (0.115 nats a
# token after 300 steps).
#
# ``LPT_BENCH_POSTERIOR=paper`` trains the same network with the paper's 15 x 0.3 schedule instead
# (5x the cost of a step); every script then caches its own models and writes its results with
# ``-paper-posterior`` in the name, beside the default's.
POSTERIORS = {"cpu": {"n_steps": 3, "step_size": 1.0, "noise_scale": 0.5},
              "paper": {"n_steps": 15, "step_size": 0.3, "noise_scale": 0.5}}
TRAIN_POSTERIOR = os.environ.get("LPT_BENCH_POSTERIOR", "cpu")
check_choice("LPT_BENCH_POSTERIOR", TRAIN_POSTERIOR, sorted(POSTERIORS))
MODEL = dict(n_latent=4, latent_dim=16, unet_base=8, unet_multipliers=(1, 2), d_model=64, n_layers=2,
             n_heads=4, seed=0, posterior=POSTERIORS[TRAIN_POSTERIOR])
_SUFFIX = "" if TRAIN_POSTERIOR == "cpu" else f"-{TRAIN_POSTERIOR}-posterior"
PROPERTIES = ("qed", "plogp")
FINETUNE_LR = 3e-4        # the LPT code's finetune peak rate (pretrain: 7.5e-4, the module's default)
N_LABELLED = 20_000       # the first 20k ZINC250k molecules: the offline data every method is given


def machine() -> str:
    return torch.cuda.get_device_name().replace(" ", "-").lower() if torch.cuda.is_available() else "cpu"


def result_path(name: str, ext: str, *, default_model: bool = False) -> Path:
    """``results/<name>[-paper-posterior]-<machine><ext>``; ``default_model``: the default model's file."""
    return RESULTS / f"{name}{'' if default_model else _SUFFIX}-{machine()}{ext}"


def write(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), "host": platform.processor() or platform.machine(),
               "torch_threads": torch.get_num_threads(), **payload}
    path = result_path(name, ".json")
    path.write_text(json.dumps(payload, indent=2))
    return path


def png(name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    return result_path(name, ".png")


def labelled_data(batch_size: int = 64) -> LPTMolDataModule:
    dm = LPTMolDataModule(dataset="zinc250k", limit=N_LABELLED, properties=PROPERTIES, batch_size=batch_size)
    dm.setup("fit")
    return dm


def _trainer(steps: int) -> L.Trainer:
    return L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=True,
                     enable_model_summary=False, inference_mode=False, limit_val_batches=0,
                     num_sanity_val_steps=0, accelerator="cpu", devices=1)


def init_args(model: LPTMolModule) -> dict:
    names = inspect.signature(LPTMolModule.__init__).parameters
    return {k: v for k, v in dict(model.hparams).items() if k in names}


def finetune_args(base: LPTMolModule, properties: tuple[str, ...]) -> dict:
    """Constructor arguments of ``base`` for phase ``finetune`` on ``properties`` at FINETUNE_LR."""
    args = init_args(base)
    return {**args, "properties": properties, "phase": "finetune", "optim": {**args["optim"], "lr": FINETUNE_LR}}


def _grouped(hparams: dict) -> dict:
    """Constructor arguments from a cache written before the grouped settings (flat
    ``generator_lr``, ``betas``, ``weight_decay``, ``grad_clip``, ``persistent_posterior``,
    ``n_examples``), so models cached by earlier runs load with the settings they were trained with."""
    h = dict(hparams)
    flat = {"generator_lr": "lr", "betas": "betas", "weight_decay": "weight_decay", "grad_clip": "grad_clip"}
    if any(k in h for k in flat):
        h["optim"] = {new: h.pop(old) for old, new in flat.items() if old in h}
    if "persistent_posterior" in h:
        h["chains"] = {"persistent": h.pop("persistent_posterior"), "n_examples": h.pop("n_examples", 0)}
    names = inspect.signature(LPTMolModule.__init__).parameters
    return {k: v for k, v in h.items() if k in names}


def _cached(tag: str, build) -> tuple[LPTMolModule, dict]:
    key = hashlib.sha256(json.dumps([tag, MODEL, N_LABELLED], sort_keys=True).encode()).hexdigest()[:12]
    path = Path(artifact_dir("lpt_mol")) / "bench" / f"{tag}-{key}.pt"
    if path.exists():
        ck = torch.load(path, weights_only=False)
        model = LPTMolModule(**_grouped(ck["hparams"]))
        model.load_state_dict(ck["state"])
        model.vocab_state = ck["vocab"]
        return model, ck["info"]
    model, info = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"hparams": init_args(model), "state": model.state_dict(), "vocab": model.vocab_state, "info": info}, path)
    return model, info


def pretrained(dm: LPTMolDataModule, steps: int) -> tuple[LPTMolModule, dict]:
    """LPT pretrained on x only (phase ``pretrain``) for ``steps`` steps; cached on disk."""

    def build() -> tuple[LPTMolModule, dict]:
        torch.manual_seed(0)
        model = LPTMolModule(vocab_size=len(dm.vocab), properties=PROPERTIES, phase="pretrain", **MODEL)
        start = time.perf_counter()
        _trainer(steps).fit(model, datamodule=dm)
        return model, {"pretrain_steps": steps, "pretrain_s": time.perf_counter() - start}

    return _cached(f"pretrain{steps}", build)


def finetuned(dm: LPTMolDataModule, prop: str, pretrain_steps: int, steps: int) -> tuple[LPTMolModule, dict]:
    """The pretrained LPT fine-tuned on (x, y) for one property (phase ``finetune``); cached."""

    def build() -> tuple[LPTMolModule, dict]:
        base, info = pretrained(dm, pretrain_steps)
        torch.manual_seed(0)
        model = LPTMolModule(**finetune_args(base, (prop,)))
        state = {k: v for k, v in base.state_dict().items() if not k.startswith("prop.")}
        model.load_state_dict(state, strict=False)
        model.vocab_state = base.vocab_state
        dm_p = copy.copy(dm)
        dm_p.train_set = _select(dm.train_set, PROPERTIES.index(prop))
        start = time.perf_counter()
        _trainer(steps).fit(model, train_dataloaders=dm_p.train_dataloader())
        return model, {**info, "finetune_steps": steps, "finetune_s": time.perf_counter() - start}

    return _cached(f"finetune-{prop}-{pretrain_steps}-{steps}", build)


def _select(ds, column: int):
    from latent_ebm.lpt_mol.data import TokenDataset

    return TokenDataset(ds.x, ds.y[:, column:column + 1])
