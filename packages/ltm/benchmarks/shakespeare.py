"""Benchmark 4: LTM vs GPT trained to convergence on character-level tiny Shakespeare (issue 28).

The anchor is nanoGPT's CPU recipe (its README: ``train.py config/train_shakespeare_char.py
--device=cpu --compile=False --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12
--n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0``, val loss
1.88): 4 layers, 4 heads, width 128, context 64, batch 12, 2,000 iterations, AdamW lr 1e-3
(betas 0.9 / 0.99, weight decay 0.1 on matrices, clip 1.0), 100 warm-up steps, cosine to 1e-4 at
the last iteration, character vocabulary of the training text, nanoGPT's 90 / 10 split, training
windows at every offset (``train_stride: 1``, drawn by an epoch-shuffled sampler as nanoGPT draws
random offsets). Everything goes through the package: ``LTMDataModule(tokenizer="char",
layout="first-party")``, ``GPTModule`` / ``LTMModule`` and a Lightning ``Trainer``. The decoder is the
package's Llama-style one (RMSNorm, RoPE, SwiGLU, tied embeddings), not nanoGPT's GPT-2 blocks;
its vocabulary has one extra id (BOS, never in the training stream).

One run per call (``--model gpt|ltm --seed S``) writes ``results/shakespeare-runs/<tag>.json``:
every ``--eval-every`` iterations the loss per character on ``--curve-windows`` fixed validation
windows, and at the end on all 1,742 non-overlapping validation windows (64 predicted characters
each): GPT's plain loss (nanoGPT's metric), and for both models the prefix-conditional loss (the
second half of each window scored; LTM's z = mu fitted on the first half only); LTM also reports
the ELBO bound per character (inner loop on the scored window, the paper's metric), its NLL and
KL per character. Training wall-clock (evaluation excluded) and forward/backward passes (GPT 1 per
iteration, LTM T_fast + 1) are recorded, and a few samples. ``--summarize`` pools the runs into
``results/shakespeare-cpu.json`` (with its ``targets`` list and the core's paired verdicts) and
``results/shakespeare-cpu.png``.

    OMP_NUM_THREADS=1 python packages/ltm/benchmarks/shakespeare.py --model gpt --seed 0
    OMP_NUM_THREADS=1 python packages/ltm/benchmarks/shakespeare.py --model ltm --inner-steps 4 --seed 0
    OMP_NUM_THREADS=1 python packages/ltm/benchmarks/shakespeare.py --model ltm --inner-steps 4 --accumulate-grads --seed 0
    OMP_NUM_THREADS=1 python packages/ltm/benchmarks/shakespeare.py --model gpt --iters 4000 --seed 0   # 2x length
    python packages/ltm/benchmarks/shakespeare.py --summarize
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from _common import RESULTS, png_path, quiet_trainer, write_json

from latent_ebm.core.metrics import paired_comparison
from latent_ebm.ltm import GPTModule, LTMDataModule, LTMModule

RUNS = RESULTS / "shakespeare-runs"
NANOGPT_VAL_LOSS = 1.88  # nanoGPT README, the CPU recipe above
BATCH, SEQ = 12, 64  # nanoGPT's CPU recipe; ``--context 256`` is its GPU recipe's context
SIZE = dict(d_model=128, n_layers=4, n_heads=4, window=None)
EQUAL_PARAM_LAYERS = 5  # GPT at 5 layers: 1.01M parameters, against LTM's 1.08M (its decoder with cross-attention)


def optim(iters: int) -> dict:
    """nanoGPT's train_shakespeare_char optimiser; the cosine ends at ``iters`` (lr_decay_iters)."""
    return {"lr": 1e-3, "betas": (0.9, 0.99), "weight_decay": 0.1, "decay": "matrices", "warmup_steps": 100,
            "schedule": "cosine", "max_steps": iters, "min_lr_ratio": 0.1, "grad_clip": 1.0}


def run_tag(a) -> str:
    return (f"{_group_name(a.model, a.iters, a.context, a.inner_steps, a.n_latents, a.latent_dim, a.accumulate_grads, a.n_layers)}"
            f"-s{a.seed}")


def _group_name(model, iters, context=SEQ, inner_steps=None, n_latents=None, latent_dim=None, acc=None,
                n_layers=SIZE["n_layers"]) -> str:
    """``gpt[-l<layers>][-c<context>]-i<iters>`` / ``ltm-t<T>-nz<N>[-d<width>]-acc|frozen[-c<context>]-i<iters>``
    (the layers, context and latent width named only where they differ from 4, 64 and d_model;
    ``gpt-l5``: the GPT with about as many parameters as LTM's decoder with its cross-attention)."""
    ctx = "" if context == SEQ else f"-c{context}"
    if model == "gpt":
        layers = "" if n_layers == SIZE["n_layers"] else f"-l{n_layers}"
        return f"gpt{layers}{ctx}-i{iters}"
    width = "" if latent_dim is None else f"-d{latent_dim}"
    return f"ltm-t{inner_steps}-nz{n_latents}{width}-{'acc' if acc else 'frozen'}{ctx}-i{iters}"


def evaluate(model, windows: torch.Tensor, chunk: int = 256) -> dict:
    """Loss per character (nats) on (N, L+1) windows: GPT's plain loss over all L targets; the
    prefix-conditional loss over the targets after the first half (LTM: z = mu of q fitted on the
    first half only); LTM's ELBO bound (nll + kl) / L with q fitted on the whole window, and its
    NLL and KL per character."""
    was = model.training
    model.eval()
    L_ = windows.shape[1] - 1
    p = model.prefix_len(windows.shape[1])
    sums = {"nll": 0.0, "kl": 0.0, "prefix": 0.0}
    n_prefix = 0
    for s in range(0, len(windows), chunk):
        x = windows[s : s + chunk]
        if isinstance(model, LTMModule):
            steps = model.fast.eval_steps_or_steps
            local = model.fit_local(x, steps)
            with torch.no_grad():
                nll, kl = model.elbo_terms(x, local)
            sums["nll"] += float(nll.sum())
            sums["kl"] += float(kl.sum())
            z = model.fit_local(x[:, :p], steps).mu
            with torch.no_grad():
                tok = model.token_nll(x, z)[:, p - 1 :]
        else:
            with torch.no_grad():
                full = model.token_nll(x, None)
            sums["nll"] += float(full.sum())
            tok = full[:, p - 1 :]
        sums["prefix"] += float(tok.sum())
        n_prefix += tok.numel()
    model.train(was)
    n_tok = len(windows) * L_
    out = {"prefix_loss": sums["prefix"] / n_prefix, "prefix_targets": windows.shape[1] - p}
    if isinstance(model, LTMModule):
        out.update(elbo_loss=(sums["nll"] + sums["kl"]) / n_tok, nll_loss=sums["nll"] / n_tok, kl_per_char=sums["kl"] / n_tok)
    else:
        out["val_loss"] = sums["nll"] / n_tok
    return out


class Curve(L.Callback):
    """Evaluates every ``every`` iterations on fixed windows; times training only."""

    def __init__(self, windows: torch.Tensor, every: int, passes_per_iter: int, dump=None) -> None:
        self.windows, self.every, self.passes, self.dump = windows, every, passes_per_iter, dump
        self.tokens_per_iter = BATCH * (windows.shape[1] - 1)
        self.rows: list[dict] = []
        self.train_s = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.train_s += time.perf_counter() - self._t
        it = trainer.global_step
        if it % self.every == 0:
            row = {"iter": it, "tokens": it * self.tokens_per_iter, "fwd_bwd_passes": it * self.passes,
                   "train_s": round(self.train_s, 1), "lr": trainer.optimizers[0].param_groups[0]["lr"],
                   **evaluate(module, self.windows)}
            self.rows.append(row)
            print(row, flush=True)
            if self.dump is not None:  # a partial record after every point: a run cut short still counts
                self.dump(self)


def samples(model, dm, windows: torch.Tensor, n: int = 3, prompt: int = 32) -> list[dict]:
    """Continuations of ``prompt`` validation characters (LTM: z = mu fitted on the prompt),
    temperature 0.8, top-k 20, to the context's end."""
    model.eval()
    out = []
    gen = torch.Generator().manual_seed(0)
    for i in range(n):
        x = windows[i * 97 : i * 97 + 1, :prompt]
        z = model.infer_z(x) if isinstance(model, LTMModule) else None
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=gen)))
        with torch.no_grad():
            y = model.decoder.generate(x, z, windows.shape[1] - 1 - prompt, temperature=0.8, top_k=20)
        out.append({"prompt": dm.decode(x[0].tolist()), "continuation": dm.decode(y[0, prompt:].tolist())})
    return out


def train_one(a) -> Path:
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    L.seed_everything(a.seed, verbose=False)
    dm = LTMDataModule(dataset="tinyshakespeare", tokenizer="char", layout="first-party", seq_len=a.context, batch_size=BATCH,
                       train_stride=1, corpus_seed=a.seed)
    dm.setup()
    val = dm.splits["validation"]
    windows = torch.stack([val[i]["x"] for i in range(len(val))])  # context 64: (1742, 65)
    curve_windows = windows[torch.linspace(0, len(windows) - 1, a.curve_windows).long()]
    common = dict(vocab_size=dm.vocab_size, **{**SIZE, "n_layers": a.n_layers}, seq_len=a.context, optim=optim(a.iters))
    if a.model == "gpt":
        model, passes = GPTModule(**common), 1
    else:
        fast = {"steps": a.inner_steps, "accumulate_grads": a.accumulate_grads}
        model = LTMModule(**common, n_latents=a.n_latents, latent_dim=a.latent_dim, fast=fast, seed=a.seed)
        passes = a.inner_steps + 1
    n_params = sum(p.numel() for p in model.parameters())
    runs = Path(a.runs_dir)
    runs.mkdir(parents=True, exist_ok=True)
    path = runs / f"{run_tag(a)}.json"
    t0 = time.perf_counter()

    def record(curve: Curve, final: dict | None = None, extra: dict | None = None) -> None:
        row = {"tag": run_tag(a), "model": a.model, "seed": a.seed, "iters": a.iters, "params": n_params,
               "inner_steps": a.inner_steps if a.model == "ltm" else None,
               "accumulate_grads": a.accumulate_grads if a.model == "ltm" else None,
               "n_latents": a.n_latents if a.model == "ltm" else None,
               "latent_dim": a.latent_dim if a.model == "ltm" else None, "context": a.context, "n_layers": a.n_layers,
               "tokens": a.iters * BATCH * a.context,
               "passes_per_iter": passes, "fwd_bwd_passes": a.iters * passes, "complete": final is not None,
               "iters_done": curve.rows[-1]["iter"] if curve.rows else 0, "train_s": round(curve.train_s, 1),
               "wall_s": round(time.perf_counter() - t0, 1), "val_windows": len(windows), "final": final,
               "curve": curve.rows, "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "load_avg": os.getloadavg(),
               **(extra or {})}
        path.write_text(json.dumps(row, indent=1))

    curve = Curve(curve_windows, a.eval_every, passes, dump=record)
    quiet_trainer(max_steps=a.iters, limit_val_batches=0, callbacks=[curve]).fit(model, dm)
    final = evaluate(model, windows)
    print("final", final, flush=True)
    record(curve, final, {"samples": samples(model, dm, windows)})
    print(path)
    return path


# ---- summary ---------------------------------------------------------------------------------------

def _group(r: dict) -> str:
    return _group_name(r["model"], r["iters"], r.get("context", SEQ), r["inner_steps"], r["n_latents"],
                       r.get("latent_dim"), r["accumulate_grads"], r.get("n_layers", SIZE["n_layers"]))


def _partner(r: dict) -> str:
    """The GPT group an LTM run is compared with: same context, same iterations."""
    return _group_name("gpt", r["iters"], r.get("context", SEQ))


def _score(r: dict) -> float:
    """The honest per-character loss of a run: GPT's plain loss, LTM's prefix-conditional loss."""
    return r["final"]["val_loss"] if r["model"] == "gpt" else r["final"]["prefix_loss"]


def rs_iters(rs: list[dict]) -> int:
    return rs[0]["iters"]


def _row_at(r: dict, it: int) -> dict | None:
    return next((c for c in r["curve"] if c["iter"] == it), None)


def _common_iter(*groups: list[dict]) -> int:
    """The last curve iteration every run of these groups has a point at (0 if none)."""
    shared = set.intersection(*({c["iter"] for c in r["curve"]} for g in groups for r in g))
    return max(shared, default=0)


def _paired(groups: dict, a: str, b: str) -> dict | None:
    """Prefix-conditional loss a - b, paired by seed: on all validation windows where every run of
    both groups completed, else on the curve windows at the last iteration all of them reached."""
    if a not in groups or b not in groups:
        return None
    shared = {r["seed"] for r in groups[a]} & {r["seed"] for r in groups[b]}
    ga, gb = ([r for r in groups[g] if r["seed"] in shared] for g in (a, b))
    if not shared:
        return None
    complete = all(r["complete"] for r in ga + gb)
    it = ga[0]["iters"] if complete else _common_iter(ga, gb)
    if it == 0:
        return None

    def val(r):
        return r["final"]["prefix_loss"] if complete else _row_at(r, it)["prefix_loss"]

    ra, rb = ({r["seed"]: val(r) for r in g} for g in (ga, gb))
    seeds = sorted(ra.keys() & rb.keys())
    base = {"iter": it, "tokens": it * BATCH * ga[0].get("context", SEQ), "windows": "all validation" if complete else "curve windows",
            "seeds": seeds, "diffs": [ra[s] - rb[s] for s in seeds], "a": [ra[s] for s in seeds], "b": [rb[s] for s in seeds]}
    if len(seeds) < 2:
        return {**base, "note": "fewer than 2 shared seeds: no paired test"}
    return {**base, **paired_comparison([ra[s] for s in seeds], [rb[s] for s in seeds])}


def _at_time(curve: list[dict], t: float) -> float | None:
    """Prefix loss (curve windows) at training wall-clock t, linearly interpolated; None beyond the run."""
    ts = [c["train_s"] for c in curve]
    if not ts or t > ts[-1] or t < ts[0]:
        return None
    return float(np.interp(t, ts, [c["prefix_loss"] for c in curve]))


def summarize() -> None:
    runs = [json.loads(p.read_text()) for p in sorted(RUNS.glob("*.json"))]
    runs = [r for r in runs if r["curve"]]
    groups: dict[str, list[dict]] = {}
    for r in runs:
        groups.setdefault(_group(r), []).append(r)
    table = {}
    for g, rs in sorted(groups.items()):
        rs.sort(key=lambda r: r["seed"])
        last = [r["final"] if r["complete"] else r["curve"][-1] for r in rs]
        entry = {"seeds": [r["seed"] for r in rs], "iters_done": [r["iters_done"] for r in rs],
                 "complete": [r["complete"] for r in rs], "params": rs[0]["params"],
                 "passes_per_iter": rs[0]["passes_per_iter"], "train_s": [r["train_s"] for r in rs],
                 "train_s_per_iter": [round(r["train_s"] / max(1, r["iters_done"]), 3) for r in rs],
                 "windows": ["all validation" if r["complete"] else "curve windows" for r in rs],
                 "prefix_loss": [x["prefix_loss"] for x in last]}
        if rs[0]["model"] == "gpt":
            entry["val_loss"] = [x["val_loss"] for x in last]
        else:
            for k in ("elbo_loss", "nll_loss", "kl_per_char"):
                entry[k] = [x[k] for x in last]
        entry["mean"] = {k: float(np.mean(v)) for k, v in entry.items() if k.endswith(("loss", "char"))}
        table[g] = entry
    partner = {g: _partner(rs[0]) for g, rs in groups.items()}
    paired = {}
    for g in groups:
        if g.startswith("ltm"):
            gpt = partner[g]
            # prefix-conditional loss, LTM - GPT, on the same scored characters (negative: LTM lower)
            paired[f"{g} vs {gpt}: prefix loss"] = _paired(groups, g, gpt)
            big = _group_name("gpt", rs_iters(groups[g]), groups[g][0].get("context", SEQ), n_layers=EQUAL_PARAM_LAYERS)
            if big in groups:  # the GPT with about LTM's parameter count, same tokens
                paired[f"{g} vs {big}: prefix loss"] = _paired(groups, g, big)
    for t in (4, 16):
        for it in (2000, 4000):
            a_, b_ = f"ltm-t{t}-nz4-acc-i{it}", f"ltm-t{t}-nz4-frozen-i{it}"
            if a_ in groups and b_ in groups:
                paired[f"{a_} vs {b_}: prefix loss"] = _paired(groups, a_, b_)
    # convergence: a run of twice the length (its cosine decays to 4,000) against the same setting at
    # 2,000, paired by seed on each model's honest loss (negative: the longer run is still improving)
    converged = {}
    for g, rs in groups.items():
        if rs_iters(rs) == 4000 and all(r["complete"] for r in rs):
            short = groups.get(g.replace("-i4000", "-i2000"), [])
            a = {r["seed"]: _score(r) for r in rs}
            b = {r["seed"]: _score(r) for r in short if r["complete"]}
            seeds = sorted(a.keys() & b.keys())
            if seeds:
                row = {"seeds": seeds, "i4000": [a[s] for s in seeds], "i2000": [b[s] for s in seeds],
                       "diffs": [a[s] - b[s] for s in seeds]}
                if len(seeds) >= 2:
                    row.update(paired_comparison(row["i4000"], row["i2000"]))
                converged[f"{g} vs {g.replace('-i4000', '-i2000')}"] = row
    # equal wall-clock: each LTM run's prefix loss at the training time it used, vs its GPT partner's
    # prefix loss at the same training time (curve windows, interpolated)
    wall = {}
    for g, rs in groups.items():
        if not g.startswith("ltm"):
            continue
        gpt = {r["seed"]: r for r in groups.get(partner[g], [])}
        rows = []
        for r in rs:
            if r["seed"] in gpt:
                t = r["curve"][-1]["train_s"]
                rows.append({"seed": r["seed"], "ltm_train_s": t, "ltm_iter": r["curve"][-1]["iter"],
                             "ltm_prefix_loss": r["curve"][-1]["prefix_loss"],
                             "gpt_prefix_loss_at_that_time": _at_time(gpt[r["seed"]]["curve"], t)})
                if rows[-1]["gpt_prefix_loss_at_that_time"] is None and gpt[r["seed"]]["complete"] and t >= gpt[r["seed"]]["train_s"]:
                    # LTM had more wall-clock than GPT's whole (finished) run: compare with GPT's end
                    rows[-1].update(gpt_prefix_loss_at_that_time=gpt[r["seed"]]["curve"][-1]["prefix_loss"],
                                    note="LTM trained longer than GPT's whole run; GPT at its end")
        wall[g] = rows
    # equal compute: LTM at iteration k (k (T_fast + 1) forward/backward passes of a batch) vs GPT at
    # iteration k (T_fast + 1), same seed, curve windows (exact, unlike wall-clock under load)
    compute = {}
    for g, rs in groups.items():
        if not g.startswith("ltm"):
            continue
        gpt = {r["seed"]: r for r in groups.get(partner[g], [])}
        rows = []
        for r in rs:
            if r["seed"] not in gpt:
                continue
            for c in reversed(r["curve"]):
                other = _row_at(gpt[r["seed"]], c["iter"] * r["passes_per_iter"])
                if other is not None:
                    rows.append({"seed": r["seed"], "ltm_iter": c["iter"], "gpt_iter": other["iter"],
                                 "passes": c["fwd_bwd_passes"], "ltm_prefix_loss": c["prefix_loss"],
                                 "gpt_prefix_loss": other["prefix_loss"], "diff": c["prefix_loss"] - other["prefix_loss"]})
                    break
        compute[g] = rows
    gpt2k = table.get("gpt-i2000")
    gpt_done = bool(gpt2k and all(gpt2k["complete"]))
    # the target setting: every T_fast = 16 group at 2,000 iterations against the same-size GPT
    t16_all = {k.split(" vs ")[0]: c for k, c in paired.items()
               if k.startswith("ltm-t16-") and k.endswith("vs gpt-i2000: prefix loss") and c}
    targets = [
        {"name": "GPT val loss per char at 2,000 iters (mean over seeds) <= nanoGPT's 1.88",
         "value": gpt2k["mean"]["val_loss"] if gpt2k else None, "goal": NANOGPT_VAL_LOSS,
         "met": bool(gpt_done and gpt2k["mean"]["val_loss"] <= NANOGPT_VAL_LOSS),
         "note": "complete" if gpt_done else f"NOT complete: runs reached {gpt2k['iters_done'] if gpt2k else None} of 2000 "
                                             "iterations (value = last curve point)"},
    ]
    for g, t16 in sorted(t16_all.items()) or [("ltm-t16", None)]:
        targets.append(
            {"name": f"{g}: LTM T_fast=16 prefix-conditional loss below GPT's at equal tokens, mean and 3 of 3 seeds",
             "value": t16.get("diffs") if t16 else None, "goal": "< 0 in the mean and in 3 of 3 seeds",
             "met": bool(t16 and len(t16["diffs"]) >= 3 and all(d < 0 for d in t16["diffs"])),
             "note": (f"seeds {t16['seeds']} at iteration {t16['iter']} ({t16['windows']})" if t16
                      else "not run: T_fast=16 did not fit the time on the shared CPU")})
    for g in sorted(groups):
        c = paired.get(f"{g} vs {partner[g]}: prefix loss")
        if c:
            targets.append({"name": f"{g}: prefix-conditional loss below GPT's at equal tokens (iter {c['iter']}, "
                                    f"{c['windows']}), in the mean and every seed",
                            "value": c["diffs"], "goal": "< 0 in the mean and every seed",
                            "met": bool(c["diffs"] and np.mean(c["diffs"]) < 0 and all(d < 0 for d in c["diffs"]))})
    for key, c in paired.items():
        if c and f"vs gpt-l{EQUAL_PARAM_LAYERS}" in key:
            targets.append({"name": f"{key.split(':')[0]}: LTM's prefix-conditional loss below the equal-parameter "
                                    f"GPT's at equal tokens (iter {c['iter']}), in the mean and every seed",
                            "value": c["diffs"], "goal": "< 0 in the mean and every seed",
                            "met": bool(c["diffs"] and np.mean(c["diffs"]) < 0 and all(d < 0 for d in c["diffs"]))})
    for g, rows in wall.items():
        vals = [r for r in rows if r["gpt_prefix_loss_at_that_time"] is not None]
        if vals:
            targets.append({"name": f"{g}: prefix loss below GPT's at equal training wall-clock (curve windows, every seed)",
                            "value": [round(r["ltm_prefix_loss"] - r["gpt_prefix_loss_at_that_time"], 4) for r in vals],
                            "goal": "< 0 in every seed",
                            "met": all(r["ltm_prefix_loss"] < r["gpt_prefix_loss_at_that_time"] for r in vals)})
    for g, rows in compute.items():
        if rows:
            targets.append({"name": f"{g}: prefix loss below GPT's at equal forward/backward passes (curve windows, every seed)",
                            "value": [round(r["diff"], 4) for r in rows], "goal": "< 0 in every seed",
                            "met": all(r["diff"] < 0 for r in rows)})
    out = {"benchmark": "char-level tiny Shakespeare, nanoGPT's CPU recipe (issue 28)",
           "recipe": {"batch": BATCH, "context": SEQ, **SIZE, "optim": optim(2000), "split": "90/10 (nanoGPT)",
                      "train_windows": "every offset, epoch-shuffled", "vocab": "65 chars + BOS",
                      "ltm": {"n_latents": 4, "latents_per_layer": 1, "window": None, "fast": "module default (FAST) "
                              "with steps=T_fast and accumulate_grads as named"}},
           "nanogpt_val_loss": NANOGPT_VAL_LOSS,
           "runs_done": sorted(f"{r['tag']} ({r['iters_done']}/{r['iters']} iters)" for r in runs),
           "load_note": "one thread per run on a shared 2-core CPU; each record carries the load average at its end "
                        "(load_avg). Runs at load 20-28 (the first session's) have wall-clock inflated 5-10x; runs at "
                        "load ~8 held one core at raised scheduler priority. Passes are exact whatever the load.",
           "load_avg": {r["tag"]: r.get("load_avg") for r in runs},
           "table": table, "paired": paired, "twice_the_length": converged, "equal_wall_clock": wall, "equal_passes": compute, "targets": targets,
           "samples": {r["tag"]: r.get("samples") for r in runs}}
    print(write_json("shakespeare", out))
    plot(groups)
    print(json.dumps({"table": {g: (e["iters_done"], e["mean"]) for g, e in table.items()}, "paired": paired,
                      "twice_the_length": converged,
                      "targets": targets}, indent=1))


def plot(groups: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, all_axes = plt.subplots(1, 4, figsize=(19, 4.4))
    axes, bound_ax = all_axes[:3], all_axes[3]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ci, (g, rs) in enumerate(sorted(groups.items())):
        c = colors[ci % len(colors)]
        for j, r in enumerate(rs):
            cur = r["curve"]
            lab = f"{g} ({len(rs)} seeds)" if j == 0 else None
            for ax, xk in zip(axes, ("tokens", "fwd_bwd_passes", "train_s")):
                ax.plot([p[xk] for p in cur], [p["prefix_loss"] for p in cur], "-", color=c, alpha=0.8, label=lab)
            if r["model"] == "ltm":
                bound_ax.plot([p["tokens"] for p in cur], [p["elbo_loss"] for p in cur], "-", color=c, alpha=0.8, label=lab)
                bound_ax.plot([p["tokens"] for p in cur], [p["kl_per_char"] for p in cur], ":", color=c, alpha=0.8)
                bound_ax.plot([p["tokens"] for p in cur], [p["nll_loss"] for p in cur], "--", color=c, alpha=0.8)
    for ax, xl in zip(axes, ("training tokens", "forward/backward passes (x batch)", "training wall-clock, s (shared CPU)")):
        ax.axhline(NANOGPT_VAL_LOSS, color="k", lw=0.8, ls="--")
        ax.set_xlabel(xl)
        ax.set_ylim(1.3, 3.4)
        ax.set_ylabel("val loss / char (nats), prefix-conditional")
    axes[1].set_xscale("log")
    axes[2].set_xscale("log")
    axes[0].legend(fontsize=7)
    bound_ax.set_xlabel("training tokens")
    bound_ax.set_ylabel("nats / char (LTM, q fitted on the window)")
    bound_ax.set_yscale("log")
    bound_ax.set_title("solid ELBO bound, dotted KL, dashed NLL", fontsize=8)
    fig.suptitle("tiny Shakespeare (char), 4 layers x 128, context 64: prefix-conditional val loss (second half of each "
                 "window; GPT's plain loss is within 0.03 of it); dashed: nanoGPT's 1.88", fontsize=9)
    fig.tight_layout()
    fig.savefig(png_path("shakespeare"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", choices=("gpt", "ltm"), default="gpt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--inner-steps", type=int, default=4)
    p.add_argument("--n-latents", type=int, default=4)
    p.add_argument("--accumulate-grads", action="store_true")
    p.add_argument("--n-layers", type=int, default=SIZE["n_layers"],
                   help=f"decoder layers (GPT at {EQUAL_PARAM_LAYERS}: about LTM's parameter count)")
    p.add_argument("--latent-dim", type=int, default=None, help="width of each latent vector (default d_model)")
    p.add_argument("--context", type=int, default=SEQ, help="characters per window (64: nanoGPT's CPU recipe)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--curve-windows", type=int, default=256)
    p.add_argument("--summarize", action="store_true")
    p.add_argument("--runs-dir", default=str(RUNS))
    a = p.parse_args()
    summarize() if a.summarize else train_one(a)


if __name__ == "__main__":
    main()
