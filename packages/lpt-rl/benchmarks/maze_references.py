"""Reference returns for the PointMaze tasks (score 0: uniform random actions; 100: the
noise-free waypoint controller driving to the goal), from random start cells, as written into
``envs.ENVS``. Needs the ``[maze]`` extra.

    python packages/lpt-rl/benchmarks/maze_references.py --episodes 30
    python packages/lpt-rl/benchmarks/maze_references.py --retarget   # targets of the JSON there

Targets: in every maze the controller's mean return is above the random policy's (the score's
range is not empty) and the ENVS entries equal the measured means (rounded to 0.01).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from latent_ebm.lpt_rl.envs import ENVS
from latent_ebm.lpt_rl.maze import MAZES, reference_returns


def targets(mazes: dict) -> list[dict]:
    out = []
    for name, ref in mazes.items():
        gap = ref["controller"] - ref["random"]
        out.append({"name": f"{name}: controller return above random's", "value": gap, "goal": "> 0", "met": gap > 0})
        err = max(abs(ENVS[name].ref_min - ref["random"]), abs(ENVS[name].ref_max - ref["controller"]))
        out.append({"name": f"{name}: envs.ENVS references equal the measured means", "value": err, "goal": "<= 0.01",
                    "met": err <= 0.01})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "maze-references-cpu.json"))
    ap.add_argument("--retarget", action="store_true", help="recompute the targets of the JSON at --out")
    args = ap.parse_args()
    if args.retarget:
        out = json.loads(Path(args.out).read_text())
        out["targets"] = targets(out["mazes"])
        Path(args.out).write_text(json.dumps(out, indent=1))
        print(json.dumps(out["targets"], indent=1))
        return
    out = {"episodes": args.episodes, "seed": args.seed, "mazes": {}}
    for name in MAZES:
        t0 = time.time()
        ref = reference_returns(name, args.episodes, args.seed)
        out["mazes"][name] = {**ref, "wall_s": round(time.time() - t0, 1)}
        print(name, out["mazes"][name], flush=True)
    out["targets"] = targets(out["mazes"])
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
