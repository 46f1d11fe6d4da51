"""Print the README's results tables (markdown) from ``results/prediction-cpu.json`` and
``results/cost-cpu.json``.  ``python benchmarks/make_table.py``"""

from __future__ import annotations

import json
from pathlib import Path

from latent_ebm.core.metrics import compare_runs

RESULTS = Path(__file__).parent / "results"
MODELS = ("ode-lebm", "gaussian-prior", "latent-ode")


def _cell(summary: dict, key: str, digits: int = 3) -> str:
    if summary.get(key) is None:
        return "–"
    return f"{summary[key]['mean']:.{digits}f} ± {summary[key]['std']:.{digits}f}"


def main() -> None:
    pred = json.loads((RESULTS / "prediction-cpu.json").read_text())
    # rows merged from several runs (bench_prediction.py --merge) name theirs: letter them
    runs = list(dict.fromkeys(res[m].get("run", "") for res in pred["results"].values() for m in MODELS))
    letter = {r: "ABCDEFGH"[i] for i, r in enumerate(runs)} if len(runs) > 1 else {}
    run_col = " run |" if letter else ""
    print("| dataset | model | seeds | interp MSE | extrap MSE | OOD AUROC (posterior energy) | OOD AUROC (prior energy) "
          f"| s / train step |{run_col}")
    print("|---|---|---|---|---|---|---|---|" + ("---|" if letter else ""))
    for d, res in pred["results"].items():
        for m in MODELS:
            s = res[m]["summary"]
            run = f" {letter[res[m].get('run', '')]} |" if letter else ""
            print(f"| {d} | {m} | {len(res[m]['runs'])} | {_cell(s, 'interp_mse')} | {_cell(s, 'extrap_mse')} | "
                  f"{_cell(s, 'ood_auroc_posterior', 2)} | {_cell(s, 'ood_auroc_prior', 2)} | "
                  f"{s['train_s_per_step']['mean']:.3f} |{run}")
        base = res["ode-lebm"]["summary"]["mean_predictor_extrap_mse"]["mean"]
        print(f"| {d} | predict the training mean | – | – | {base:.3f} | – | – | – |" + (" – |" if letter else ""))
    for r, c in letter.items():
        print(f"\n{c}: {r or 'unlabelled'}", end="")
    if letter:
        print()
    print("\n| dataset | ODE-LEBM vs | seeds | mean extrap diff [95% bootstrap] | ODE-LEBM lower on | sign test p | verdict |")
    print("|---|---|---|---|---|---|---|")
    for d, res in pred["results"].items():
        for other, c in compare_runs(res, "ode-lebm", MODELS[1:], key="extrap_mse").items():
            print(f"| {d} | {other} | {c['n']} | {c['mean_diff']:+.4f} [{c['ci95'][0]:+.4f}, {c['ci95'][1]:+.4f}] | "
                  f"{c['wins']} of {c['n']} | {c['sign_test_p']:.3f} | {c['verdict']} |")
    cost_path = RESULTS / "cost-cpu.json"
    if cost_path.exists():
        cost = json.loads(cost_path.read_text())
        print("\n| solver | posterior steps K | s / step | NFE / step | time vs latent ODE step |")
        print("|---|---|---|---|---|")
        for r in cost["ode_lebm"]:
            print(f"| {r['solver']} | {r['posterior_steps']} | {r['s_per_step']:.3f} | {r['nfe_per_step']:.0f} | "
                  f"{r['time_ratio_vs_latent_ode']:.1f}× |")
        lo = cost["latent_ode"]
        print(f"| latent ODE (amortised) | – | {lo['s_per_step']:.3f} | {lo['nfe_per_step']:.0f} | 1.0× |")


if __name__ == "__main__":
    main()
