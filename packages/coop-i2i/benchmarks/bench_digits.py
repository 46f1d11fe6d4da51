"""Cooperative translation vs its no-teaching ablation on 3-domain rendered digits (CPU scale).

Arms trained at equal iterations and paired seeds (same data, same initial nets per seed):
- ``coop``: the method (multi-domain MCMC teaching + the three extra losses);
- ``no_teach``: the same with ``mcmc_teaching=False`` (the translator learns from the extra
  losses only; the descriptor still learns);
and, evaluated without training, ``identity`` (the source itself) and ``descriptor_only``
(Langevin from the source under ``coop``'s target head, no translator).

On the test split (each source with a fixed reference from another domain) it measures target-
domain accuracy, content preservation (digit accuracy), PSNR to the exact re-rendering, diversity
over 5 latent styles and the Fréchet distance in the domain classifier's features
(``fd_domain-cnn``), then a paired t-test coop vs no_teach over seeds. Writes
``results/digits-<machine>.json`` and ``.png`` (translation grids of seed 0).

    python packages/coop-i2i/benchmarks/bench_digits.py --iters 300 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from latent_ebm.coop_i2i import CoopI2IDataModule, CoopI2IModule
from latent_ebm.coop_i2i.metrics import classifier, diversity, frechet, predict, psnr
from latent_ebm.core.artifacts import save_image_grid
from latent_ebm.core.testing.contract import tiny_trainer

RESULTS = Path(__file__).resolve().parent / "results"
MODEL = dict(image_size=16, style_dim=16, latent_dim=8, dim_base=8, max_dim=32, bottleneck=4, n_bottleneck=1,
             mapping_hidden=32, mapping_shared=2, mapping_head=1, ref_sigma=None, energy_reg=0.1,
             lambda_sty=1.0, lambda_ds=1.0, lambda_cyc=1.0,
             revision={"n_steps": 10, "step_size": 1.0, "noise_scale": 0.01},
             energy_optim={"lr": 2e-4}, initializer_optim={"lr": 5e-4})
ARMS = {"coop": {}, "no_teach": {"mcmc_teaching": False}}


def machine() -> str:
    return torch.cuda.get_device_name(0).split()[-1].lower() if torch.cuda.is_available() else "cpu"


def data(n_train: int, n_test: int) -> CoopI2IDataModule:
    dm = CoopI2IDataModule("digits", image_size=16, n_train=n_train, n_val=64, n_test=n_test, batch_size=32)
    dm.setup(None)
    return dm


@torch.no_grad()
def translate_all(m: CoopI2IModule, ds, n_styles: int = 5, n_div: int = 100):
    x, y_ref, x_ref = ds.x, ds.y[ds.ref], ds.x[ds.ref]
    ref_out = torch.cat([m.translate(a, b, ref=c) for a, b, c in zip(x.split(100), y_ref.split(100),
                                                                       x_ref.split(100))])
    g = torch.Generator().manual_seed(0)
    z = torch.randn(len(x), m.hparams.latent_dim, generator=g)
    lat_out = torch.cat([m.translate(a, b, z=c) for a, b, c in zip(x.split(100), y_ref.split(100), z.split(100))])
    zs = torch.randn(n_styles, m.hparams.latent_dim, generator=g)
    div = torch.stack([m.translate(x[:n_div], y_ref[:n_div], z=zs[j].expand(n_div, -1)) for j in range(n_styles)], 1)
    return ref_out, lat_out, div


def evaluate(out_ref, out_lat, div, ds, clfs) -> dict[str, float]:
    dom, dig = clfs
    y_ref = ds.y[ds.ref]
    oracle = torch.stack([ds[i]["x_oracle"] for i in range(len(ds))])
    res = {
        "target_acc_ref": float((predict(dom, out_ref) == y_ref).float().mean()),
        "target_acc_latent": float((predict(dom, out_lat) == y_ref).float().mean()),
        "content_acc_ref": float((predict(dig, out_ref) == ds.content).float().mean()),
        "ref_psnr": float(psnr(out_ref, oracle).mean()),
        "fd_domain_cnn_latent": frechet(dom, out_lat, y_ref, ds.x, ds.y, "domain"),
        "fd_domain_cnn_ref": frechet(dom, out_ref, y_ref, ds.x, ds.y, "domain"),
    }
    if div is not None:
        res["diversity_l1"] = diversity(div)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iters", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n_train", type=int, default=6000)
    ap.add_argument("--n_test", type=int, default=300)
    ap.add_argument("--tag", default="digits")
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    dm = data(a.n_train, a.n_test)
    tr = dm.train_set
    dom, dom_acc = classifier(tr.x, tr.y, "domain16")
    dig, dig_acc = classifier(tr.x, tr.content, "digit16", epochs=8)
    ds = dm.test_set
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in (*ARMS, "identity", "descriptor_only")}
    rows["identity"] = [evaluate(ds.x, ds.x, None, ds, (dom, dig))]
    grids = {}
    for seed in a.seeds:
        for arm, over in ARMS.items():
            torch.manual_seed(seed)
            m = CoopI2IModule(**{**MODEL, **over}, seed=seed)
            ts = time.time()
            tiny_trainer(RESULTS / ".runs", max_steps=3 * a.iters, limit_val_batches=0).fit(m, dm)
            m.eval()
            ref_out, lat_out, div = translate_all(m, ds)
            r = evaluate(ref_out, lat_out, div, ds, (dom, dig)) | {"seed": seed, "train_s": time.time() - ts}
            rows[arm].append(r)
            print(arm, seed, json.dumps({k: round(v, 4) for k, v in r.items()}), flush=True)
            if arm == "coop":
                g = torch.Generator().manual_seed(seed)
                desc = m.descriptor_translate(ds.x, ds.y[ds.ref], generator=g).detach()
                rd = evaluate(desc, desc, None, ds, (dom, dig)) | {"seed": seed}
                rows["descriptor_only"].append(rd)
                print("descriptor_only", seed, json.dumps({k: round(v, 4) for k, v in rd.items()}), flush=True)
            if seed == a.seeds[0]:
                n = 8
                grids[arm] = torch.stack([ds.x[:n], ds.x[ds.ref][:n], torch.stack([ds[i]["x_oracle"] for i in range(n)]), ref_out[:n], *div[:n].unbind(1)], 1)
                if arm == "coop":
                    grids["descriptor_only"] = desc[:n]
    summary = {}
    for arm, rs in rows.items():
        keys = [k for k in rs[0] if k not in ("seed", "train_s")]
        summary[arm] = {k: {"mean": float(np.mean([r[k] for r in rs])), "sd": float(np.std([r[k] for r in rs]))}
                        for k in keys}
    tests = {}
    for k in ("target_acc_ref", "target_acc_latent", "ref_psnr", "fd_domain_cnn_latent", "content_acc_ref"):
        c = [r[k] for r in rows["coop"]]
        b = [r[k] for r in rows["no_teach"]]
        p = float(stats.ttest_rel(c, b).pvalue) if len(c) > 1 else float("nan")
        tests[k] = {"coop_minus_no_teach": float(np.mean(np.subtract(c, b))), "paired_t_p": p}
    s = summary
    targets = [
        {"name": "coop target-domain accuracy (ref) > no_teach", "value": s["coop"]["target_acc_ref"]["mean"],
         "goal": f"> {s['no_teach']['target_acc_ref']['mean']:.3f}",
         "met": s["coop"]["target_acc_ref"]["mean"] > s["no_teach"]["target_acc_ref"]["mean"]},
        {"name": "coop fd_domain-cnn (latent) < no_teach", "value": s["coop"]["fd_domain_cnn_latent"]["mean"],
         "goal": f"< {s['no_teach']['fd_domain_cnn_latent']['mean']:.3f}",
         "met": s["coop"]["fd_domain_cnn_latent"]["mean"] < s["no_teach"]["fd_domain_cnn_latent"]["mean"]},
        {"name": "coop ref PSNR > no_teach", "value": s["coop"]["ref_psnr"]["mean"],
         "goal": f"> {s['no_teach']['ref_psnr']['mean']:.2f}",
         "met": s["coop"]["ref_psnr"]["mean"] > s["no_teach"]["ref_psnr"]["mean"]},
        {"name": "coop content preservation", "value": s["coop"]["content_acc_ref"]["mean"], "goal": ">= 0.9",
         "met": s["coop"]["content_acc_ref"]["mean"] >= 0.9},
        {"name": "coop diversity (mean pairwise L1, 5 styles)", "value": s["coop"]["diversity_l1"]["mean"],
         "goal": "> 0.01 (not collapsed)", "met": s["coop"]["diversity_l1"]["mean"] > 0.01},
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), "platform": platform.platform(), "torch": torch.__version__,
               "command": f"python packages/coop-i2i/benchmarks/bench_digits.py --iters {a.iters} --seeds "
                          + " ".join(map(str, a.seeds)) + f" --n_train {a.n_train} --n_test {a.n_test}",
               "scale": f"digits 16x16, 3 rendered domains, {a.n_train} train / {a.n_test} test, {a.iters} iterations, "
                        "batch 32",
               "model": MODEL, "classifier_heldout_acc": {"domain": dom_acc, "digit": dig_acc},
               "per_seed": rows, "summary": summary, "paired_tests": tests, "targets": targets,
               "wall_s": time.time() - t0}
    path = RESULTS / f"{a.tag}-{machine()}.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    # grid: rows = 8 sources; cols = source, reference, oracle, coop(ref), coop 5 latent | no_teach same
    big = torch.cat([grids["coop"], grids["no_teach"][:, 3:], grids["descriptor_only"][:, None]], 1)
    save_image_grid(big.flatten(0, 1), RESULTS / f"{a.tag}-{machine()}.png", nrow=big.shape[1])
    print(json.dumps(targets, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
