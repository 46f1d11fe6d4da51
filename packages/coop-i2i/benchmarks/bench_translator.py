"""Can the translator architecture do the digits task at all in a few steps? A capacity check of
G's variants (``translator_skip``, ``translator_out_norm``), without descriptor, teaching or
adversary: G and E are trained SUPERVISED for ``--steps`` Adam steps on the L1 to the exact
re-rendering (source digit, reference's domain and style; 2000 training pairs, batch 32, the
benchmark's 16x16 nets and optimiser), then scored on the test split like ``bench_digits.py``
(target-domain accuracy, content accuracy, PSNR to the oracle): a direct-supervision reference
point for what a training signal can reach through that architecture in that many steps.

    python packages/coop-i2i/benchmarks/bench_translator.py --steps 150

Writes ``results/<tag>-<machine>.json`` and ``.png`` (``--tag``, default ``translator-capacity``; with ``targets``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch
from bench_digits import MODEL, RESULTS, data, digit_classifier, machine

from latent_ebm.coop_i2i import CoopI2IModule
from latent_ebm.coop_i2i.metrics import classifier, predict, psnr
from latent_ebm.core.artifacts import save_image_grid

VARIANTS = {"none/in (StarGAN v2)": ("none", "in"), "hpf/in": ("hpf", "in"), "none/adain": ("none", "adain"),
            "unet/adain": ("unet", "adain"), "residual/adain": ("residual", "adain"), "hpf/adain": ("hpf", "adain")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="translator-capacity")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--set", nargs="*", default=[], help="key=value (JSON) overrides of every variant's nets")
    a = ap.parse_args()
    overrides = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in a.set)}
    torch.set_num_threads(1)
    t0 = time.time()
    dm = data(6000, 300)
    tr, ds = dm.train_set, dm.test_set
    dom, _ = classifier(tr.x, tr.y, "domain16")
    dig, _ = digit_classifier()
    sup = dm.rendered("train", 2000, pairs=True)
    x_or = torch.stack([sup[i]["x_oracle"] for i in range(len(sup))])
    x_ref, y_ref = sup.x[sup.ref], sup.y[sup.ref]
    oracle = torch.stack([ds[i]["x_oracle"] for i in range(len(ds))])
    with torch.no_grad():
        upper = {"content_acc_oracle": float((predict(dig, oracle) == ds.content).float().mean()),
                 "content_acc_source": float((predict(dig, ds.x) == ds.content).float().mean())}
    print("digit classifier on exact renderings:", upper, flush=True)
    rows = {}
    cols = [ds.x[:8], ds.x[ds.ref][:8], oracle[:8]]
    for name in a.variants:
        skip, norm = VARIANTS[name]
        torch.manual_seed(a.seed)
        m = CoopI2IModule(**{**MODEL, **overrides, "translator_skip": skip, "translator_out_norm": norm}, seed=a.seed)
        params = [*m.translator.parameters(), *m.style_encoder.parameters()]
        opt = torch.optim.Adam(params, lr=MODEL["initializer_optim"]["lr"], betas=(0.5, 0.999))
        g = torch.Generator().manual_seed(a.seed)
        ts = time.time()
        for _ in range(a.steps):
            i = torch.randint(0, len(sup.x), (32,), generator=g)
            loss = (m.translate(sup.x[i], y_ref[i], ref=x_ref[i]) - x_or[i]).abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        m.eval()
        with torch.no_grad():
            out = m.translate(ds.x, ds.y[ds.ref], ref=ds.x[ds.ref])
        rows[name] = {"train_l1": float(loss), "target_acc_ref": float((predict(dom, out) == ds.y[ds.ref]).float().mean()),
                      "content_acc_ref": float((predict(dig, out) == ds.content).float().mean()),
                      "ref_psnr": float(psnr(out, oracle).mean()), "train_s": time.time() - ts}
        cols.append(out[:8])
        print(name, json.dumps({k: round(v, 3) for k, v in rows[name].items()}), flush=True)
    targets = []
    if "hpf/adain" in rows and "none/in (StarGAN v2)" in rows:
        for k in ("ref_psnr", "content_acc_ref"):
            v, w = rows["hpf/adain"][k], rows["none/in (StarGAN v2)"][k]
            targets.append({"name": f"hpf/adain {k} > none/in (supervised, {a.steps} steps)", "value": v,
                            "goal": f"> {w:.3f}", "met": v > w})
    if "hpf/adain" in rows:
        v = rows["hpf/adain"]["content_acc_ref"]
        targets.append({"name": f"hpf/adain content accuracy under supervision ({a.steps} steps)", "value": v,
                        "goal": ">= 0.9", "met": v >= 0.9})
    payload = {"machine": machine(), "platform": platform.platform(), "torch": torch.__version__,
               "command": f"python packages/coop-i2i/benchmarks/bench_translator.py --steps {a.steps} --seed {a.seed}"
               f" --tag {a.tag} --variants " + " ".join(f"'{v}'" for v in a.variants)
               + (" --set " + " ".join(f"'{kv}'" for kv in a.set) if a.set else ""),
               "scale": f"digits 16x16, 2000 supervised pairs, {a.steps} steps, batch 32, test 300",
               "model": {**MODEL, **overrides}, "classifier_on_exact": upper, "variants": {k: VARIANTS[k] for k in a.variants}, "results": rows,
               "targets": targets, "load_avg_at_end": list(os.getloadavg()), "wall_s": time.time() - t0}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{a.tag}-{machine()}.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    # rows: 8 test sources; columns: source, reference, oracle, then every variant's output
    save_image_grid(torch.stack(cols, 1).flatten(0, 1), RESULTS / f"{a.tag}-{machine()}.png", nrow=len(cols))
    print(json.dumps(targets, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
