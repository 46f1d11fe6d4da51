"""A tiny ESR1 docking run of DSO on CPU: AutoDock Vina through ``lpt_mol.docking.DockingOracle``,
every call counted by one ``Oracle`` (failures counted by stage, never scored).

The LPT is lpt-mol's cached benchmark model (``packages/lpt-mol/benchmarks/_shared.py``: width 64,
2 layers, 4 x 16-d latents, ``--pretrain-steps`` on the first 20k ZINC250k molecules) with a new
ESR1 head. The offline data hold no docking labels, so the loop starts from ``--offline`` random
ZINC250k molecules docked first (counted in the budget); the head is fitted on them
(``--refit-steps``), then DSO rounds (warm-started Langevin toward -E + ``--shift`` kcal/mol, decode,
dock, top-K with latents, refit) spend the rest of ``--budget``. Values are -E (kcal/mol); K_D =
exp(E / RT) in nM (``docking.kd_nm``). One seed: it shows the pipeline end to end, far below the
paper's scale (25 x 2,500 AutoDock-GPU calls).

    OMP_NUM_THREADS=1 python packages/dso/benchmarks/bench_docking.py --budget 60 --offline 20 --per-round 20
Writes ``results/docking-esr1-b<budget>-cpu.json`` and ``.png``.
"""
from __future__ import annotations

import argparse
import inspect
import json
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch

from latent_ebm.core.data import artifact_dir
from latent_ebm.dso import DSOModule
from latent_ebm.dso.loop import check_budget, loop_config, summarise
from latent_ebm.lpt_mol import LPTMolModule
from latent_ebm.lpt_mol.data import SelfiesVocab, load_smiles
from latent_ebm.lpt_mol.docking import DockingOracle, kd_nm
from latent_ebm.lpt_mol.filters import ring_sizes_ok
from latent_ebm.lpt_mol.oracles import Oracle
from latent_ebm.lpt_mol.shift import ShiftState, refit, run_shifting

RESULTS = Path(__file__).parent / "results"
BOX = {"center": [67.275, 33.965, 76.011], "size": [7.5, 12.0, 13.5],
       "source": "LIMO's 1err.gpf (../shared/data/docking-esr1-acaa1-limo/boxes.json)"}


def machine() -> str:
    return torch.cuda.get_device_name().replace(" ", "-").lower() if torch.cuda.is_available() else "cpu"


def cached_pretrained(steps: int, target: str) -> tuple[DSOModule, dict]:
    """lpt-mol's cached pretrained benchmark LPT as a DSOModule with one fresh ``target`` head."""
    found = sorted((Path(artifact_dir("lpt_mol")) / "bench").glob(f"pretrain{steps}-*.pt"))
    if not found:
        raise SystemExit(f"no cached lpt-mol model pretrain{steps}-*.pt; run lpt-mol's benchmarks first")
    ck = torch.load(found[0], weights_only=False)
    names = inspect.signature(LPTMolModule.__init__).parameters
    args = {k: v for k, v in ck["hparams"].items() if k in names}
    args.update(properties=(target,), phase="finetune", optim={**args["optim"], "lr": 3e-4})  # lpt-mol's finetune lr
    torch.manual_seed(0)
    model = DSOModule(**args)
    model.load_state_dict({k: v for k, v in ck["state"].items() if not k.startswith("prop.")}, strict=False)
    model.vocab_state = ck["vocab"]
    return model, {"cached": found[0].name, **ck["info"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="esr1", choices=("esr1",), help="the receptor with a PDBQT offline (1ERR)")
    ap.add_argument("--budget", type=int, default=60)
    ap.add_argument("--offline", type=int, default=20, help="random ZINC250k molecules docked first (counted)")
    ap.add_argument("--per-round", type=int, default=20)
    ap.add_argument("--shift", type=float, default=0.5, help="kcal/mol")
    ap.add_argument("--exhaustiveness", type=int, default=1)
    ap.add_argument("--pretrain-steps", type=int, default=100)
    ap.add_argument("--refit-steps", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    start = time.perf_counter()
    model, info = cached_pretrained(args.pretrain_steps, args.target)
    vocab = SelfiesVocab.from_state(model.vocab_state)
    docker = DockingOracle(args.target, scoring="vina", exhaustiveness=args.exhaustiveness, seed=1, negate=True)
    oracle = Oracle(docker, budget=args.budget)

    import selfies as sf

    def encodable(s: str) -> bool:
        try:
            vocab.encode(sf.encoder(s), int(model.hparams.max_len))
        except Exception:  # noqa: BLE001 - too long or tokens outside the vocabulary
            return False
        return ring_sizes_ok(s)

    zinc = load_smiles("zinc250k", limit=20_000)
    initial = [s for s in random.Random(args.seed).sample(zinc, 5 * args.offline) if encodable(s)][: args.offline]
    values = oracle(initial)
    pool = sorted(((s, v) for s, v in zip(initial, values, strict=True) if v is not None), key=lambda t: -t[1])
    initial_s = time.perf_counter() - start
    print({"initial": len(initial), "docked": len(pool), "best_energy": -pool[0][1], "s": initial_s}, flush=True)
    cfg = loop_config("dso", seeding="pool", per_round=args.per_round, pool_size=args.budget, rounds=10**4,
                      refit_steps=args.refit_steps, batch_size=16, shift=args.shift)
    state = ShiftState(pool=pool)
    torch.manual_seed(args.seed)
    refit(model, vocab, state, cfg)  # learn p(y | z) on the docked sample before the first design
    check_budget(args.budget, cfg)

    def write(st: ShiftState) -> dict:  # after every round: a killed run keeps what it did
        return report(args, oracle, docker, st, pool, len(initial), info, time.perf_counter() - start)

    write(state)
    run_shifting(model, vocab, oracle, state, cfg, torch.Generator().manual_seed(args.seed), on_round=write)
    payload = write(state)
    docker.close()
    print(json.dumps({"top3": payload["top3"], "targets": payload["targets"], "seconds": payload["seconds"]}, indent=2))


def report(args, oracle, docker, state, pool, n_initial: int, info: dict, seconds: float) -> dict:
    """The run so far: JSON (with targets) + PNG under results/."""
    energies = [-v for _, _, v in oracle.history]
    design_e = energies[len(pool):]
    top = oracle.top_k(3)
    best_initial, initial_mean = -pool[0][1], float(np.mean([-v for _, v in pool]))
    best_design = min(design_e) if design_e else None
    targets = [
        {"name": "oracle calls spent exactly at the budget (failed dockings counted)", "value": oracle.calls,
         "goal": f"== {args.budget}", "met": oracle.calls == args.budget},
        {"name": "best DSO design binds better (lower Vina E, kcal/mol) than the best of the docked ZINC sample",
         "value": best_design, "goal": f"< {best_initial}", "met": best_design is not None and best_design < best_initial},
        {"name": "mean E of the DSO designs below the mean E of the docked ZINC sample (kcal/mol)",
         "value": float(np.mean(design_e)) if design_e else None, "goal": f"< {initial_mean:.3f}",
         "met": bool(design_e) and float(np.mean(design_e)) < initial_mean},
    ]
    payload = {"machine": machine(), "host": platform.processor() or platform.machine(),
               "torch_threads": torch.get_num_threads(), "args": vars(args), "model": info,
               "vina": {"scoring": "vina", "exhaustiveness": args.exhaustiveness, "n_poses": 1, "seed": 1, "cpu": 1,
                        "box": BOX, "receptor": "1err.pdbqt"},
               "complete": oracle.calls >= args.budget, "calls": oracle.calls, "invalid_smiles": oracle.invalid,
               "failed_calls": oracle.failures, "docking_failures_by_stage": dict(docker.failures),
               "last_errors": list(docker.errors)[-5:],
               "initial": {"n": n_initial, "docked": len(pool), "best_energy": best_initial, "mean_energy": initial_mean},
               "rounds": state.log, "summary_neg_energy": summarise(oracle, args.budget),
               "top3": [{"smiles": s, "energy_kcal_mol": -v, "kd_nm": float(kd_nm(-v))} for s, v in top],
               "top10_mean_energy": float(np.mean(sorted(energies)[:10])), "energies_in_call_order": energies,
               "targets": targets, "seconds": seconds, "seconds_per_docking": seconds / max(1, oracle.calls)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"docking-{args.target}-b{args.budget}-{machine()}"
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    plot(RESULTS / f"{name}.png", energies, len(pool), args)
    print({"calls": oracle.calls, "round": state.round, "best_energy": min(energies), "seconds": seconds}, flush=True)
    return payload


def plot(path: Path, energies: list[float], n_initial: int, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(1, len(energies) + 1)
    ax.scatter(x[:n_initial], energies[:n_initial], s=12, color="C7", label="random ZINC250k (docked first)")
    ax.scatter(x[n_initial:], energies[n_initial:], s=12, color="C0", label="DSO designs")
    ax.plot(x, np.minimum.accumulate(energies), color="C3", label="best so far")
    ax.set(xlabel="docking call", ylabel="Vina E (kcal/mol, lower is better)",
           title=f"DSO on ESR1 (1ERR), Vina exhaustiveness {args.exhaustiveness}, {args.budget} calls")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
