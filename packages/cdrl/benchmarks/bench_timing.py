"""Wall-clock cost of CDRL (K = 15) vs DRL (K = 30) with the Fashion-MNIST benchmark networks,
measured interleaved in one process (min over repeats), so machine load hits both alike.
Training time per iteration and sampling time per image; weights do not change the cost, so
the networks are freshly initialised. Writes ``results/timing-cdrl-vs-drl-cpu.json``.

    OMP_NUM_THREADS=1 python benchmarks/bench_timing.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import lightning as L
import torch

from latent_ebm.cdrl import CDRLDataModule, CDRLModule

OUT = Path(__file__).parent / "results"


def make(drl: bool) -> CDRLModule:
    warm = {"warmup_steps": 1}
    return CDRLModule(data_shape=(1, 32, 32), revision={"n_steps": 30 if drl else 15}, use_initializer=not drl,
                      ebm_width=16, init_width=16, energy_optim=warm, initializer_optim=warm)


def train_time(drl: bool, iters: int = 6) -> float:
    m = make(drl)
    dm = CDRLDataModule("synthetic", batch_size=32, n_train=32 * iters, n_val=2)
    t0 = time.perf_counter()
    L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
              inference_mode=False).fit(m, dm)
    return (time.perf_counter() - t0) / iters


def sample_time(m: CDRLModule, n: int = 16) -> float:
    t0 = time.perf_counter()
    m.sample(n, generator=torch.Generator().manual_seed(0))
    return (time.perf_counter() - t0) / n


def main() -> None:
    torch.set_num_threads(1)
    models = {"cdrl": make(False).eval(), "drl": make(True).eval()}
    res: dict = {"sample_s_per_image": {"cdrl": [], "drl": []}, "train_s_per_iter": {"cdrl": [], "drl": []}}
    for _ in range(3):
        for name, m in models.items():
            res["sample_s_per_image"][name].append(sample_time(m))
            res["train_s_per_iter"][name].append(train_time(name == "drl"))
    best = {k: {n: min(v) for n, v in d.items()} for k, d in res.items()}
    res["min"] = best
    res["ratios"] = {f"{k}_drl_over_cdrl": best[k]["drl"] / best[k]["cdrl"] for k in best}
    res["langevin_evals_per_sample"] = {"cdrl": 6 * 15 + 1, "drl": 6 * 30 + 1}
    OUT.mkdir(exist_ok=True)
    (OUT / "timing-cdrl-vs-drl-cpu.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res["ratios"]), json.dumps(best))


if __name__ == "__main__":
    main()
