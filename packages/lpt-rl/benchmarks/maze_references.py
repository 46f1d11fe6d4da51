"""Reference returns for the PointMaze tasks (score 0: uniform random actions; 100: the
noise-free waypoint controller driving to the goal), from random start cells, as written into
``envs.ENVS``. Needs the ``[maze]`` extra.

    python packages/lpt-rl/benchmarks/maze_references.py --episodes 30
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from latent_ebm.lpt_rl.maze import MAZES, reference_returns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "maze-references-cpu.json"))
    args = ap.parse_args()
    out = {"episodes": args.episodes, "seed": args.seed, "mazes": {}}
    for name in MAZES:
        t0 = time.time()
        ref = reference_returns(name, args.episodes, args.seed)
        out["mazes"][name] = {**ref, "wall_s": round(time.time() - t0, 1)}
        print(name, out["mazes"][name], flush=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
