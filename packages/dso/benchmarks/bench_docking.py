"""ESR1 docking on CPU: DSO against its single-space ablations and random ZINC at one budget,
AutoDock Vina through ``lpt_mol.docking.DockingOracle``, every call of every method counted by its
own ``Oracle`` (failures counted by stage, never scored).

The LPT is lpt-mol's cached benchmark model (``packages/lpt-mol/benchmarks/_shared.py``: width 64,
2 layers, 4 x 16-d latents, ``--pretrain-steps`` on the first 20k ZINC250k molecules) with a new
ESR1 head. The offline data hold no docking labels, so the loop starts from ``--offline`` random
ZINC250k molecules docked first (counted in the budget); the head is fitted on them
(``--refit-steps``), then DSO rounds (warm-started Langevin toward -E + ``--shift`` kcal/mol, decode,
dock, top-K with latents, refit) spend the rest of ``--budget``. ``latent_only`` (no refit) and
``data_only`` (no Langevin) run the same loop from the same docked sample; ``random`` docks random
ZINC250k molecules until the budget is spent. Paired seeds: a seed fixes the docked sample, the
head's refit and the loop's generator for every method. Vina is deterministic for a fixed seed, so
a molecule docked by one method is looked up, not re-docked, by the next (every method's own
``Oracle`` still charges the call). Values are -E (kcal/mol); K_D = exp(E / RT) in nM
(``docking.kd_nm``). Far below the paper's scale (25 x 2,500 AutoDock-GPU calls).

    OMP_NUM_THREADS=1 python packages/dso/benchmarks/bench_docking.py --budget 60 --offline 20 --per-round 20
    OMP_NUM_THREADS=1 python packages/dso/benchmarks/bench_docking.py --pretrain-steps 2400 --budget 100 --seeds 3
Writes ``results/docking-esr1-b<budget>[-pre<steps>]-cpu.json`` and ``.png`` (rewritten after every run).
"""
from __future__ import annotations

import argparse
import copy
import inspect
import json
import platform
import random
import time
from pathlib import Path

import numpy as np
import torch
from bench_multi import compare

from latent_ebm.core.data import artifact_dir
from latent_ebm.dso import DSOModule
from latent_ebm.dso.loop import MODES, check_budget, loop_config, summarise
from latent_ebm.lpt_mol import LPTMolModule
from latent_ebm.lpt_mol.data import SelfiesVocab, load_smiles
from latent_ebm.lpt_mol.docking import DockingOracle, kd_nm
from latent_ebm.lpt_mol.filters import ring_sizes_ok
from latent_ebm.lpt_mol.ga import random_baseline
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


class DockingMemo:
    """Vina with a fixed seed is deterministic: score each SMILES once across methods. The
    ``Oracle`` of each method still counts the call; failures stay None (and are counted by the
    ``DockingOracle`` once)."""

    def __init__(self, docker: DockingOracle) -> None:
        self.docker, self.memo = docker, {}

    def batch(self, smiles: list[str]) -> list[float | None]:
        new = [s for s in dict.fromkeys(smiles) if s not in self.memo]
        if new:
            self.memo.update(zip(new, self.docker.batch(new), strict=True))
        return [self.memo[s] for s in smiles]

    def __call__(self, smiles: str) -> float | None:
        return self.batch([smiles])[0]


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
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--methods", default="dso", help="comma-separated: dso, latent_only, data_only, random")
    args = ap.parse_args()
    methods = args.methods.split(",")
    for m in methods:
        if m not in (*MODES, "random"):
            raise SystemExit(f"error: --methods: unknown method {m!r}; use {', '.join((*MODES, 'random'))}")
    start = time.perf_counter()
    base, info = cached_pretrained(args.pretrain_steps, args.target)
    vocab = SelfiesVocab.from_state(base.vocab_state)
    docker = DockingOracle(args.target, scoring="vina", exhaustiveness=args.exhaustiveness, seed=1, negate=True)
    memo = DockingMemo(docker)

    import selfies as sf

    def encodable(s: str) -> bool:
        try:
            vocab.encode(sf.encoder(s), int(base.hparams.max_len))
        except Exception:  # noqa: BLE001 - too long or tokens outside the vocabulary
            return False
        return ring_sizes_ok(s)

    zinc = load_smiles("zinc250k", limit=20_000)
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for seed in range(args.seeds):
        initial = [s for s in random.Random(seed).sample(zinc, 5 * args.offline) if encodable(s)][: args.offline]
        for method in methods:
            t0 = time.perf_counter()
            oracle = Oracle(memo, budget=args.budget)
            runs[method].append({"seed": seed, **run_method(method, base, vocab, oracle, initial, zinc, seed, args),
                                 "seconds": time.perf_counter() - t0})
            payload = report(args, runs, info, docker, time.perf_counter() - start)
            r = runs[method][-1]
            print(method, seed, {k: r[k] for k in ("calls", "failures", "best_energy", "top10_mean_energy")},
                  round(r["seconds"]), "s", flush=True)
    docker.close()
    print(json.dumps({"table": payload["table_mean_std"], "targets": payload["targets"], "seconds": payload["seconds"]},
                     indent=2))


def run_method(method: str, base: DSOModule, vocab, oracle: Oracle, initial: list[str], zinc: list[str],
               seed: int, args) -> dict:
    """Spend ``oracle``'s budget with one method; the run's energies, top-3 and per-round record."""
    state = ShiftState(pool=[])
    n_initial = 0
    if method == "random":
        random_baseline(oracle, zinc, seed=seed, keep=ring_sizes_ok)
    else:
        values = oracle(initial)
        n_initial = len(initial)
        state.pool = sorted(((s, v) for s, v in zip(initial, values, strict=True) if v is not None), key=lambda t: -t[1])
        cfg = loop_config(method, seeding="pool", per_round=args.per_round, pool_size=args.budget, rounds=10**4,
                          refit_steps=args.refit_steps, batch_size=16, shift=args.shift)
        check_budget(args.budget, cfg)
        model = copy.deepcopy(base)
        torch.manual_seed(seed)
        refit(model, vocab, state, cfg)  # learn p(y | z) on the docked sample before the first design
        run_shifting(model, vocab, oracle, state, cfg, torch.Generator().manual_seed(seed))
    energies = [-v for _, _, v in oracle.history]
    return {**summarise(oracle, args.budget), "n_initial": n_initial, "best_energy": min(energies),
            "top10_mean_energy": float(np.mean(sorted(energies)[:10])),
            "best_design_energy": min(energies[n_initial:], default=None),
            "top3": [{"smiles": s, "energy_kcal_mol": -v, "kd_nm": float(kd_nm(-v))} for s, v in oracle.top_k(3)],
            "pool_best_energy_by_round": [-r["pool_best"] for r in state.log], "rounds": state.round,
            "energies_in_call_order": energies}


def report(args, runs: dict, info: dict, docker: DockingOracle, seconds: float) -> dict:
    """The runs so far: JSON (with targets) + PNG under results/."""
    n = min(len(rs) for rs in runs.values() if rs) if any(runs.values()) else 0
    done = {m: rs[:n] for m, rs in runs.items() if len(rs) >= n and n}
    targets = [{"name": "oracle calls spent exactly at the budget by every run (failed dockings counted)",
                "value": sorted({r["calls"] for rs in runs.values() for r in rs}), "goal": f"== [{args.budget}]",
                "met": all(r["calls"] == args.budget for rs in runs.values() for r in rs)}]
    if "dso" in done:
        better = [r["best_design_energy"] is not None and r["best_design_energy"] < min(r["energies_in_call_order"][:r["n_initial"]])
                  for r in done["dso"]]
        targets.append({"name": "best DSO design binds better (lower Vina E) than the best of its docked ZINC sample (seeds)",
                        "value": sum(better), "goal": f"{n} of {n}", "met": all(better)})
        for other in ("latent_only", "data_only", "random"):
            if other in done and n >= 2:
                c = compare(done, "dso", other, "top10_auc")
                targets.append({"name": f"DSO top-10 AUC (-E, kcal/mol) above {other}, paired over {n} seeds "
                                        "(mean difference; core paired_comparison)",
                                "value": c["mean_diff"], "goal": "> 0", "met": c["mean_diff"] > 0, **c})
    table = {m: {k: [float(np.mean([r[k] for r in rs])), float(np.std([r[k] for r in rs]))]
                 for k in ("best_energy", "top10_mean_energy", "top10_auc")} for m, rs in runs.items() if rs}
    payload = {"machine": machine(), "host": platform.processor() or platform.machine(),
               "torch_threads": torch.get_num_threads(), "args": vars(args), "model": info,
               "vina": {"scoring": "vina", "exhaustiveness": args.exhaustiveness, "n_poses": 1, "seed": 1, "cpu": 1,
                        "box": BOX, "receptor": "1err.pdbqt"},
               "distinct_molecules_docked": docker.calls, "docking_failures_by_stage": dict(docker.failures),
               "last_errors": list(docker.errors)[-5:], "seeds_complete": n, "table_mean_std": table,
               "targets": targets, "runs": runs, "seconds": seconds}
    RESULTS.mkdir(parents=True, exist_ok=True)
    pre = "" if args.pretrain_steps == 100 else f"-pre{args.pretrain_steps}"
    name = f"docking-{args.target}-b{args.budget}{pre}-{machine()}"
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2))
    plot(RESULTS / f"{name}.png", runs, args)
    return payload


def plot(path: Path, runs: dict, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (method, rs) in enumerate(runs.items()):
        for j, r in enumerate(rs):
            e = r["energies_in_call_order"]
            x = np.arange(1, len(e) + 1)
            a.plot(x, np.minimum.accumulate(e), color=f"C{i}", alpha=0.8, label=method if j == 0 else None)
            if j == 0:
                b.scatter(x, e, s=8, color=f"C{i}", alpha=0.6, label=f"{method} (seed 0)")
    a.set(xlabel="docking call", ylabel="best Vina E so far (kcal/mol, lower is better)",
          title=f"ESR1 (1ERR), exhaustiveness {args.exhaustiveness}, {args.budget} calls, LPT pretrain {args.pretrain_steps}")
    b.set(xlabel="docking call", ylabel="Vina E (kcal/mol)", title="every docked molecule, seed 0")
    a.legend(fontsize=8)
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
