"""The prepared GPU check: one call on a lent GPU, each step with its own time limit.

    python3 scripts/gpu_check.py --out DIR [--budget 480] [--jobs lpt-train,ltm-shakespeare,ode-lebm-seeds,cdrl-fashion]
    python3 scripts/gpu_check.py --out DIR --dry-run     # every step on the CPU at toy sizes (CI)

Steps, in order (the seconds are the GPU limits; a step past its limit is stopped and recorded):
1. ``cuda-tests`` (180 s): JIT-build the CUDA Langevin kernels and run the core's kernel tests
   (test_ops*.py: CUDA against the C++ kernels on one Philox stream, the chain replay across cuda
   and cpp, torch.compile of the sampler on CUDA).
2. ``bench-kernels`` (45 s): fused ULA / anisotropic / MALA vs eager vs a device copy, 16M-256M
   elements, float32 and bfloat16; target: >= 70 % of a copy's bandwidth at 64M float32.
3. ``bench-samplers`` (30 s): the sampler's overhead over a bare autograd loop on the GPU.
4. ``packages`` (120 s): every package's ``tiny`` config fit a few steps on the GPU in
   bf16-mixed, ``test`` from the checkpoint, then resumed from it.
5. ``ltm-throughput`` (120 s): LTM vs the same-size GPT at the ltm-s size, bf16, eager and
   torch.compile, with MFU.
6. ``jobs``: longer jobs in the order given, each with its own budget, until the total budget
   is spent; the summary records what ran (the next GPU run starts with the next job).

Everything lands in DIR: ``gpu-check.json`` (steps, status, seconds, each result's targets),
``gpu-check.log`` (all output) and ``gpu-check.tar.gz`` (result JSON/PNG files, logs, a job's
checkpoint), so the device tool's limit of 8 files back is kept. The GPU machine has PyTorch,
Lightning, torchdiffeq, torchmetrics and nvcc but no network: ``scripts/gpu_prepare.py`` gathers
the wheels (jsonargparse, rdkit, selfies, ...) and the data into ``.gpu-carry/`` (git-ignored),
which the device call carries; this script installs and uses it from there.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CARRY = ROOT / ".gpu-carry"
# (distribution suffix, import name) of every package with a console script
PACKAGES = sorted((p.parents[3].name, p.parent.name) for p in (ROOT / "packages").glob("*/src/latent_ebm/*/cli.py"))


@dataclass
class Step:
    name: str
    status: str = "not run"  # ok | failed | timeout | skipped | not run
    seconds: float = 0.0
    detail: str = ""
    targets: list[dict] = field(default_factory=list)


class Check:
    """Runs commands with time limits, logging everything to one file."""

    def __init__(self, out: Path, dry_run: bool, budget: float) -> None:
        self.out, self.dry, self.budget = out, dry_run, budget
        self.work = out / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = (out / "gpu-check.log").open("a", encoding="utf-8")
        self.start = time.monotonic()
        self.steps: list[Step] = []
        self.env = self._env()

    def _env(self) -> dict[str, str]:
        src = [str(ROOT / "shared-core" / "src")] + [str(ROOT / "packages" / d / "src") for d, _ in PACKAGES]
        site = self._install_carried_wheels()
        env = dict(os.environ, PYTHONUNBUFFERED="1", LATENT_EBM_ARTIFACT_DIR=str(self.work / "artifacts"),
                   PYTHONPATH=os.pathsep.join([*src, *([str(site)] if site else []), os.environ.get("PYTHONPATH", "")]))
        if (CARRY / "data").is_dir() and not self.dry:
            env["LATENT_EBM_DATA_DIR"] = str(CARRY / "data")
        return env

    def _install_carried_wheels(self) -> Path | None:
        """The wheels gpu_prepare.py gathered, unpacked into a site folder (no network there)."""
        wheels = sorted((CARRY / "wheels").glob("*.whl"))
        if self.dry or not wheels:
            return None
        site = Path("/tmp/latent-ebm-gpu-site")
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
               "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, wheels)]
        subprocess.run(cmd, check=False, stdout=self.log, stderr=subprocess.STDOUT)
        return site

    def left(self) -> float:
        return self.budget - (time.monotonic() - self.start)

    def say(self, text: str) -> None:
        print(text, flush=True)
        self.log.write(text + "\n")
        self.log.flush()

    def run(self, cmd: list[str], limit: float, cwd: Path = ROOT) -> tuple[str, float]:
        """Run ``cmd`` (output to the log) for at most ``limit`` seconds: (status, seconds)."""
        limit = max(1.0, min(limit, self.left()))
        self.say(f"$ {' '.join(cmd)}   [limit {limit:.0f} s]")
        t0 = time.monotonic()
        with subprocess.Popen(cmd, cwd=cwd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                              start_new_session=True) as proc:
            try:
                code = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                return "timeout", time.monotonic() - t0
        return ("ok" if code == 0 else f"failed (exit {code})"), time.monotonic() - t0

    def step(self, name: str, limit: float, body) -> None:
        st = Step(name)
        self.steps.append(st)
        if self.left() < 5:
            st.status, st.detail = "skipped", "the total budget is spent"
            return
        self.say(f"\n=== {name} (limit {min(limit, self.left()):.0f} s) ===")
        t0 = time.monotonic()
        deadline = t0 + min(limit, self.left())
        try:
            st.status, st.detail = body(lambda: deadline - time.monotonic())
        except Exception as err:  # noqa: BLE001 - one broken step must not stop the check
            st.status, st.detail = "failed", f"{type(err).__name__}: {err}"
        st.seconds = time.monotonic() - t0
        self.say(f"=== {name}: {st.status} in {st.seconds:.0f} s {st.detail}")


def _python(*args: str) -> list[str]:
    return [sys.executable, *args]


def _cli(package: str, *args: str) -> list[str]:
    """The package's console script, run from the source tree (nothing is installed there)."""
    module = dict(PACKAGES).get(package, package.replace("-", "_"))
    code = f"import sys; from latent_ebm.{module}.cli import main; sys.argv[0] = 'latent-ebm-{package}'; main()"
    return _python("-c", code, *args)


def _targets_of(paths: list[Path]) -> list[dict]:
    out = []
    for p in paths:
        try:
            out += [{**t, "file": p.name} for t in json.loads(p.read_text()).get("targets", [])]
        except (OSError, ValueError):
            continue
    return out


# ---- the steps ------------------------------------------------------------------------------------
def cuda_tests(c: Check, left) -> tuple[str, str]:
    tests = ["shared-core/tests/test_ops.py", "shared-core/tests/test_ops_backends.py"]
    if c.dry:  # the CUDA cases are collected and skip on a CPU
        tests = ["shared-core/tests/test_ops_backends.py", "-k", "cuda"]
    else:
        c.env["LATENT_EBM_OPS"] = "cuda"
        status, _ = c.run(_python("-c", "from latent_ebm.core.ops import _build; assert _build.load_cuda()"), left())
        c.env.pop("LATENT_EBM_OPS")
        if status != "ok":
            return "failed", "the CUDA extension did not build (see the log)"
    status, _ = c.run(_python("-m", "pytest", *tests, "-q", "-rs", "-p", "no:cacheprovider"), left())
    return ("ok" if status == "ok" else status), ""


def bench_kernels(c: Check, left) -> tuple[str, str]:
    out = c.work / "results"
    args = (["--devices", "cpu", "--sizes", "64K", "--repeats", "2"] if c.dry
            else ["--devices", "cuda", "--sizes", "16M,64M,256M", "--repeats", "10"])
    status, _ = c.run(_python("shared-core/benchmarks/bench_kernels.py", *args, "--dtypes", "float32,bfloat16",
                              "--out-dir", str(out)), left())
    c.steps[-1].targets = _targets_of(sorted(out.glob("kernels-*.json")))
    return status, ""


def bench_samplers(c: Check, left) -> tuple[str, str]:
    out = c.work / "results" / f"samplers-{'cpu' if c.dry else 'gpu'}.json"
    args = (["--steps", "2", "--repeats", "2", "--batch", "8", "--dim", "16", "--width", "16"] if c.dry
            else ["--device", "cuda", "--steps", "20", "--repeats", "15", "--batch", "4096"])
    status, _ = c.run(_python("shared-core/benchmarks/bench_samplers.py", *args, "--out", str(out)), left())
    c.steps[-1].targets = _targets_of([out])
    return status, ""


def packages(c: Check, left) -> tuple[str, str]:
    """fit (a few steps) -> test -> fit resumed, per package, on the GPU in bf16-mixed."""
    device = ["--trainer.accelerator", "cpu"] if c.dry else ["--trainer.accelerator", "gpu", "--trainer.precision",
                                                            "bf16-mixed"]
    failed = []
    names = ["_template"] if c.dry else [d for d, _ in PACKAGES]  # the dry run checks the loop, not each package
    for i, pkg in enumerate(names):
        if pkg == "lpt-mol" and subprocess.run(_python("-c", "import rdkit, selfies"), env=c.env,
                                                capture_output=True).returncode != 0:
            c.steps[-1].targets.append({"name": "lpt-mol tiny", "value": "skipped: rdkit/selfies not carried",
                                        "goal": "ok", "met": False})
            continue
        root = ["--trainer.default_root_dir", str(c.work / "runs" / pkg), "--trainer.devices", "1"]
        share = left() / (len(names) - i)
        for args in (["fit", "--config", "tiny", "--trainer.max_steps", "4", *device, *root],
                     ["test", "--config", "tiny", "--ckpt_path", "last", *device, *root],
                     ["fit", "--config", "tiny", "--ckpt_path", "last", "--trainer.max_steps", "8", *device, *root]):
            status, _ = c.run(_cli(pkg, *args), share / 2)
            what = f"{pkg} tiny {args[0]}" + (" (resumed)" if args[0] == "fit" and "last" in args else "")
            c.steps[-1].targets.append({"name": what, "value": status, "goal": "ok", "met": status == "ok"})
            if status != "ok":
                failed.append(f"{pkg} {args[0]}: {status}")
                break
    if not failed:
        return "ok", ""
    return ("timeout" if all(f.endswith("timeout") for f in failed) else "failed"), ", ".join(failed)


def ltm_throughput(c: Check, left) -> tuple[str, str]:
    out = c.work / "results"
    size = ["--size", "tiny", "--steps", "1"] if c.dry else ["--size", "ltm-s", "--steps", "5"]
    statuses = []
    for extra in ([],) if c.dry else ([], ["--compile"]):  # compiling on a CPU takes longer than the dry run
        status, _ = c.run(_python("packages/ltm/benchmarks/throughput.py", *size, *extra, "--out-dir", str(out)),
                          left() / (2 if not extra else 1))
        statuses.append(status)
    c.steps[-1].targets = _targets_of(sorted(out.glob("throughput-*.json")))
    return _worst(statuses), ""


def _worst(statuses: list[str]) -> str:
    """ok when all are; timeout when every other one ran out of time; else failed."""
    bad = [s for s in statuses if s != "ok"]
    if not bad:
        return "ok"
    return "timeout" if all(s == "timeout" for s in bad) else "failed"


# ---- the job queue ----------------------------------------------------------------------------------
def job_lpt_train(c: Check, seconds: float) -> list[str]:
    """LPT at the paper's width on all of ZINC250k for the time left; the weights come back in bf16."""
    minutes = max(1, int(seconds // 60) - 1)
    root = c.work / "runs" / "lpt-train"
    data = ["--data.limit", "2000"] if c.dry else []
    trainer = (["--trainer.max_steps", "2", "--trainer.accelerator", "cpu"] if c.dry else
               ["--trainer.max_time", f"00:00:{minutes:02d}:00", "--trainer.accelerator", "gpu",
                "--trainer.precision", "bf16-mixed"])
    return _cli("lpt-mol", "fit", "--config", "paper" if not c.dry else "tiny", *trainer, *data,
                "--trainer.default_root_dir", str(root))


def job_ode_lebm_seeds(c: Check, seconds: float) -> list[str]:
    """ODE-LEBM's sinusoid benchmark, 20 seeds at 3x the training length (CPU processes, in parallel)."""
    scale, seeds = ("0.05", "0-0") if c.dry else ("3", "0-19")
    return _python("packages/ode-lebm/benchmarks/probe_sampler_noise.py", "--seeds", seeds, "--steps-scale", scale,
                   "--sampler-offset", "0", "--out", str(c.work / "results" / "ode-lebm-x3-seeds.json"))


def job_cdrl_fashion(c: Check, seconds: float) -> list[str]:
    """CDRL vs DRL on Fashion-MNIST for longer than the CPU run."""
    iters = "2" if c.dry else "2000"
    return _python("packages/cdrl/benchmarks/bench_fashion.py", "--iters", iters, "--name", "fashion-gpu")


def job_ltm_shakespeare(c: Check, seconds: float) -> list[str]:
    """Issue 28's runs a CPU cannot afford (about 3 h a seed on one core): LTM at T_fast = 16 with
    4 x 8 latents on char-level Shakespeare to 4,000 iterations, seeds 0-2 as three processes on the
    one GPU. Each run rewrites its JSON at every curve point, so a run cut short still comes back;
    copy ``results/shakespeare-runs/*.json`` into ``packages/ltm/benchmarks/results/`` and run
    ``shakespeare.py --summarize``."""
    runs = c.work / "results" / "shakespeare-runs"
    iters, every = ("4", "2") if c.dry else ("4000", "250")
    one = [sys.executable, "packages/ltm/benchmarks/shakespeare.py", "--model", "ltm", "--inner-steps", "16",
           "--n-latents", "4", "--latent-dim", "8", "--accumulate-grads", "--iters", iters, "--eval-every", every,
           "--runs-dir", str(runs)]
    return ["bash", "-c", " & ".join(shlex.join([*one, "--seed", str(s)]) for s in range(3)) + " & wait"]


JOBS = {"lpt-train": job_lpt_train, "ltm-shakespeare": job_ltm_shakespeare, "ode-lebm-seeds": job_ode_lebm_seeds,
        "cdrl-fashion": job_cdrl_fashion}


def jobs(c: Check, order: list[str], per_job: float | None) -> tuple[str, str]:
    ran = []
    for name in order:
        if c.left() < 30 and not c.dry:
            break
        seconds = per_job if per_job is not None else c.left() - 20
        status, took = c.run(JOBS[name](c, seconds), seconds)
        ran.append(f"{name}: {status} ({took:.0f} s)")
        c.steps[-1].targets.append({"name": f"job {name}", "value": status, "goal": "ok or timeout (budget spent)",
                                    "met": status in ("ok", "timeout")})
    return "ok", "; ".join(ran) or "no job ran (no time left)"


def pack(c: Check) -> None:
    """Result files, logs and job outputs into one tarball; a job's LPT checkpoint as bf16 weights."""
    for ckpt in sorted((c.work / "runs" / "lpt-train").rglob("last.ckpt")):
        subprocess.run(_python("-c", (
            "import sys, torch; c = torch.load(sys.argv[1], map_location='cpu', weights_only=True); "
            "c = {'state_dict': {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in "
            "c['state_dict'].items()}, 'hyper_parameters': c.get('hyper_parameters', {}), "
            "'latent_ebm': {k: v for k, v in c.get('latent_ebm', {}).items() if k == 'vocab'}}; "
            "torch.save(c, sys.argv[2])"), str(ckpt), str(c.out / "lpt-zinc-bf16.ckpt")), env=c.env, check=False)
        break
    with tarfile.open(c.out / "gpu-check.tar.gz", "w:gz") as tar:
        for path in sorted(c.work.rglob("*")):
            if path.is_file() and path.suffix in {".json", ".png", ".log", ".txt", ".csv", ".yaml"}:
                tar.add(path, arcname=str(path.relative_to(c.work)))
    shutil.rmtree(c.work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="where the results go ($OUT on the device)")
    p.add_argument("--dry-run", action="store_true", help="every step on the CPU at toy sizes (under 2 minutes)")
    p.add_argument("--budget", type=float, default=None, help="total seconds (default 480; dry run 150)")
    p.add_argument("--jobs", default="lpt-train,ltm-shakespeare,ode-lebm-seeds,cdrl-fashion",
                   help=f"longer jobs in order, of {sorted(JOBS)} ('' for none)")
    p.add_argument("--steps", default="cuda-tests,bench-kernels,bench-samplers,packages,ltm-throughput,jobs")
    a = p.parse_args(argv)
    order = [j for j in a.jobs.split(",") if j]
    unknown = [j for j in order if j not in JOBS]
    if unknown:
        print(f"error: jobs={unknown} is not allowed; choose from {sorted(JOBS)}", file=sys.stderr)
        return 2
    if not a.dry_run:
        import torch

        if not torch.cuda.is_available():
            print("error: no CUDA device; use --dry-run on a machine without a GPU", file=sys.stderr)
            return 2
    budget = a.budget or (150.0 if a.dry_run else 480.0)
    a.out.mkdir(parents=True, exist_ok=True)
    c = Check(a.out, a.dry_run, budget)
    limits = {"cuda-tests": 180, "bench-kernels": 45, "bench-samplers": 30, "packages": 120, "ltm-throughput": 120}
    if a.dry_run:
        # the first kernel benchmark builds the C++ op (20-40 s on a fresh 2-core machine)
        limits = {"cuda-tests": 30, "bench-kernels": 45, "bench-samplers": 20, "packages": 45, "ltm-throughput": 20}
    bodies = {"cuda-tests": cuda_tests, "bench-kernels": bench_kernels, "bench-samplers": bench_samplers,
              "packages": packages, "ltm-throughput": ltm_throughput}
    for name in a.steps.split(","):
        if name == "jobs":
            c.step("jobs", c.left(), lambda left: jobs(c, order, 8.0 if a.dry_run else None))
        else:
            c.step(name, limits[name], lambda left, f=bodies[name]: f(c, left))
    summary = {"dry_run": a.dry_run, "budget_s": budget, "seconds": time.monotonic() - c.start,
               "device": _device(), "jobs_requested": order, "steps": [asdict(s) for s in c.steps]}
    summary["targets"] = [{**t, "step": s.name} for s in c.steps for t in s.targets]
    (a.out / "gpu-check.json").write_text(json.dumps(summary, indent=2) + "\n")
    pack(c)
    bad = [s.name for s in c.steps if s.status not in ("ok", "skipped")]
    c.say(f"\ngpu-check: {len(c.steps) - len(bad)} of {len(c.steps)} steps ok in {summary['seconds']:.0f} s"
          + (f"; not ok: {', '.join(bad)}" if bad else ""))
    # the dry run guards against rot: a crash fails it, a slow (shared) CPU running out of time does not
    broken = [s.name for s in c.steps if s.status.startswith("failed")] if a.dry_run else bad
    return 1 if broken else 0


def _device() -> str:
    try:
        import torch

        return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
