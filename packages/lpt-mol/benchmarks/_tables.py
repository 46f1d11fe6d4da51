"""Print the README's results tables (markdown) from the JSON files in ``results/``.

    python benchmarks/_tables.py [--machine cpu]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def _load(name: str, machine: str) -> dict | None:
    path = RESULTS / f"{name}-{machine}.json"
    return json.loads(path.read_text()) if path.exists() else None


def unconditional(d: dict) -> str:
    rows = ["| samples | validity | uniqueness | novelty | IntDiv1 | mean QED | mean SA | mean PlogP | "
            "heavy atoms | rings | aromatic rings | with a ring > 6 |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for key, label in (("lpt", "LPT, z0 ~ N(0, I)"), ("training_sample", "ZINC training sample")):
        m, p = d[key], d["property_mean"][key]
        rows.append(f"| {label} | {m['validity']:.3f} | {m['uniqueness']:.3f} | {m['novelty']:.3f} | "
                    f"{m['internal_diversity']:.3f} | {p['qed']:.3f} | {p['sa']:.2f} | {p['plogp']:.2f} | "
                    f"{m['heavy_atoms']:.1f} | {m['rings']:.2f} | {m['aromatic_rings']:.2f} | {m['share_ring_gt6']:.2f} |")
    return "\n".join(rows)


def design(d: dict) -> str:
    decoding = f", LPT top-k {d['top_k']}, T {d['temperature']:g}" if "top_k" in d else ""
    rings = f", rings {d['ring_sizes']}" if d.get("ring_sizes") else ""
    rows = [f"| {d['property']} (budget {d['budget']}, {d['seeds']} seeds{decoding}{rings}) | top-1 | top-2 | top-3 | "
            "mean top-50 | top-10 AUC |", "|---|---|---|---|---|---|"]
    for method, t in d["table_mean_std"].items():
        cells = " | ".join(f"{t[k][0]:.3f} ± {t[k][1]:.3f}" for k in ("top1", "top2", "top3", "top50_mean", "top10_auc"))
        rows.append(f"| {method} | {cells} |")
    rows.append(f"| offline set (given, not counted) | {d['offline_top1']:.3f} | | | {d['offline_top50_mean']:.3f} | |")
    return "\n".join(rows)


def pmo(d: dict) -> str:
    """The PMO protocol's table: top-10 AUC first (mean ± std and per seed), top-1 and mean top-50
    beside it, each run's wall time, then the paired targets."""
    rounds = f", {d['per_round']} designs a round" if d.get("per_round") else ""
    rows = [f"| {d['property']} (budget {d['budget']}, {d.get('seeding', 'pool')} seeding{rounds}, LPT pretrained "
            f"{d.get('pretrain_steps', 2400)} steps) | top-10 AUC | AUC per seed | top-1 | mean top-50 | "
            "wall s per seed |", "|---|---|---|---|---|---|"]
    for method, t in d["table_mean_std"].items():
        runs = d["runs"][method]
        seeds = [r.get("seed", i) for i, r in enumerate(runs)]
        per_seed = " / ".join(f"{r['top10_auc']:.3f}" for r in runs)
        wall = " / ".join(f"{d['seconds'].get(f'{method}/{s}') or float('nan'):.0f}" for s in seeds)
        rows.append(f"| {method} | {t['top10_auc'][0]:.3f} ± {t['top10_auc'][1]:.3f} | {per_seed} | "
                    f"{t['top1'][0]:.3f} ± {t['top1'][1]:.3f} | {t['top50_mean'][0]:.3f} ± {t['top50_mean'][1]:.3f} | "
                    f"{wall} |")
    for i, t in enumerate(d.get("targets", [])):
        value = "n/a" if t["value"] is None else f"{t['value']:+.3f}"
        rows.append(f"{'' if i else chr(10)}- {t['name']}: {value} (goal {t['goal']}): {'met' if t['met'] else 'not met'}")
    return "\n".join(rows)


def _mean(rounds: list[dict], *keys: str) -> float:
    def get(r: dict) -> float:
        for k in keys:
            r = r.get(k, 0) if isinstance(r, dict) else r
        return r

    return sum(get(r) for r in rounds) / len(rounds)


def design_rounds(files: list[dict]) -> str:
    """One row per probe_design_rounds.py setting: means over its rounds."""
    rows = ["| decoding, refit, ring filter | rounds | start mean | design mean | best design | rejected / round | "
            "aromatic rings | with a ring > 6 |", "|---|---|---|---|---|---|---|---|"]
    for d in files:
        rs = d["rounds"]
        refit = f"{d['refit_steps']} steps" if d["refit_steps"] else "one pass"
        rows.append(f"| top-k {d['top_k']}, T {d['temperature']:g}, refit {refit}, rings "
                    f"{d['ring_sizes'] or 'any'} | {len(rs)} | {_mean(rs, 'start_mean'):.3f} | "
                    f"{_mean(rs, 'design_mean'):.3f} | {max(r['design_max'] for r in rs):.3f} | "
                    f"{_mean(rs, 'ring_filter_rejected'):.1f} | "
                    f"{_mean(rs, 'structure', 'aromatic_rings'):.2f} | "
                    f"{_mean(rs, 'structure', 'share_ring_gt6'):.2f} |")
    return "\n".join(rows)


def docking(d: dict) -> str:
    rows = ["| molecule | E (kcal/mol) | K_D (nM) |", "|---|---|---|"]
    rows += [f"| `{t['smiles']}` | {t['energy_kcal_mol']:.2f} | {t['kd_nm']:.0f} |" for t in d["top3"]]
    rows.append(f"\nBest of the initial random ZINC sample: {d['initial_top3_energy'][0]:.2f} kcal/mol; "
                f"{d['calls']} docking calls, failures {d['docking_failures_by_stage'] or 0} "
                f"(rate {d['failure_rate']:.3f}), {d['seconds_per_docking']:.1f} s per call.")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--machine", default="cpu")
    args = ap.parse_args()
    if d := _load("unconditional", args.machine):
        print(unconditional(d), end="\n\n")
    for path in sorted(RESULTS.glob(f"design-*-{args.machine}.json")):
        d = json.loads(path.read_text())
        if path.name.startswith("design-rounds-") or not d["runs"].get("lpt"):
            continue
        print(pmo(d) if "targets" in d else design(d), end="\n\n")
    if rounds := [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"design-rounds-*-{args.machine}.json"))]:
        print(design_rounds(rounds), end="\n\n")
    if d := _load("docking-esr1", args.machine):
        print(docking(d))


if __name__ == "__main__":
    main()
