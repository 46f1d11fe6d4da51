"""Cost of MCMC inference through the ODE: wall time per training step and solver NFE against
the number of posterior Langevin steps K (rk4 on the grid vs dopri5), as ratios to one
amortised latent-ODE step measured in the same run (sinusoids, batch 40, 30 time points).

Writes ``benchmarks/results/cost-cpu.json`` and ``cost-cpu.png``.

    OMP_NUM_THREADS=1 python benchmarks/bench_cost.py
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import lightning as L
import torch

from latent_ebm.core.samplers import LangevinSchedule
from latent_ebm.ode_lebm import LatentODEVAE, ODELEBMDataModule, ODELEBMModule

RESULTS = Path(__file__).parent / "results"


class _Timer(L.Callback):
    """Wall time and NFE of each training step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.nfes: list[int] = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        module.dynamics.func.nfe = 0
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter() - self.start)
        self.nfes.append(module.dynamics.func.nfe)


def _time_steps(model: L.LightningModule, dm: ODELEBMDataModule, n: int = 5) -> tuple[float, float]:
    """Median seconds per training step and mean NFE per step (the first step is a warm-up)."""
    timer = _Timer()
    per_batch = 2 if getattr(model.hparams, "prior", None) == "ebm" else 1  # global_step counts optimiser steps
    L.Trainer(max_steps=(n + 1) * per_batch, accelerator="cpu", logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
              limit_val_batches=0, callbacks=[timer]).fit(model, dm)
    return float(torch.tensor(timer.times[1:]).median()), float(torch.tensor(timer.nfes[1:], dtype=torch.float).mean())


def main() -> None:
    torch.set_num_threads(1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    dm = ODELEBMDataModule(dataset="sinusoids", n_train=240, train_steps=30, test_steps=60, batch_size=40)
    torch.manual_seed(0)
    base_s, base_nfe = _time_steps(LatentODEVAE(latent_dim=4, ode_hidden=32, emission_hidden=32,
                                                encoder_hidden=32), dm)
    rows = []
    for method in ("rk4", "dopri5"):
        for k in (5, 10, 20, 40):
            torch.manual_seed(0)
            model = ODELEBMModule(latent_dim=4, ode_hidden=32, emission_hidden=32, prior_hidden=64,
                                  ode_method=method, posterior=LangevinSchedule(k, 0.1),
                                  prior_langevin=LangevinSchedule(60, 0.4))
            s, nfe = _time_steps(model, dm)
            rows.append({"solver": method, "posterior_steps": k, "s_per_step": s, "nfe_per_step": nfe,
                         "time_ratio_vs_latent_ode": s / base_s})
            print(rows[-1], flush=True)
    report = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
              "batch": 40, "time_points": 30,
              "latent_ode": {"s_per_step": base_s, "nfe_per_step": base_nfe}, "ode_lebm": rows}
    (RESULTS / "cost-cpu.json").write_text(json.dumps(report, indent=1))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for method, c in (("rk4", "C3"), ("dopri5", "C0")):
        r = [x for x in rows if x["solver"] == method]
        ks = [x["posterior_steps"] for x in r]
        axes[0].plot(ks, [x["time_ratio_vs_latent_ode"] for x in r], "o-", color=c, label=f"ODE-LEBM {method}")
        axes[1].plot(ks, [x["nfe_per_step"] for x in r], "o-", color=c, label=f"ODE-LEBM {method}")
    axes[0].axhline(1.0, color="C2", ls="--", label="latent ODE (amortised)")
    axes[1].axhline(base_nfe, color="C2", ls="--", label="latent ODE (amortised)")
    axes[0].set(xlabel="posterior Langevin steps K", ylabel="time per training step / latent ODE's")
    axes[1].set(xlabel="posterior Langevin steps K", ylabel="ODE function evaluations per step", yscale="log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "cost-cpu.png", dpi=110)


if __name__ == "__main__":
    main()
