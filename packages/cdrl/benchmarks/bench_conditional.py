"""Class-conditional CDRL on Fashion-MNIST 32x32 (small networks, CPU): classifier-free guidance
w = 0/1/2/4 (w = 0 unconditional, 1 conditional), inpainting and compositional generation.

Quantitative figure: the fraction of samples that the offline Fashion-MNIST classifier (the FID
feature network) assigns to the requested class, against w. Writes
``results/fashion-conditional-cpu.{json,png}``.

    OMP_NUM_THREADS=1 LATENT_EBM_DATA_DIR=/work/shared/data python benchmarks/bench_conditional.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import torch

from latent_ebm.cdrl import CDRLDataModule, CDRLModule
from latent_ebm.cdrl.data import load_idx_images
from latent_ebm.cdrl.metrics import feature_extractor

OUT = Path(__file__).parent / "results"
CLASSES = ["T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]


def tile(x: torch.Tensor, nrow: int) -> torch.Tensor:
    x = x.clamp(-1, 1)[:, 0]
    n, h, w = x.shape
    rows = (n + nrow - 1) // nrow
    out = torch.ones(rows * (h + 1), nrow * (w + 1))
    for i in range(n):
        r, c = divmod(i, nrow)
        out[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = x[i]
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--iters", type=int, default=300)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--per_class", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    L.seed_everything(0)
    m = CDRLModule(data_shape=(1, 32, 32), num_classes=10, p_uncond=0.2, revision={"n_steps": 15}, ebm_width=16,
                   init_width=16, energy_optim={"lr": 5e-4, "warmup_steps": 20},
                   initializer_optim={"lr": 1e-3, "warmup_steps": 20}, ema_decay=0.98)
    dm = CDRLDataModule("fashion-mnist", batch_size=args.batch, n_train=args.batch * args.iters, n_val=2)
    L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
              inference_mode=False).fit(m, dm)
    m.eval()
    clf, acc = feature_extractor("fashion-mnist")
    labels = torch.arange(10).repeat_interleave(args.per_class)
    res: dict = {"config": vars(args), "classifier_heldout_acc": acc, "guidance": []}
    grids = {}
    for w in (0.0, 1.0, 2.0, 4.0):
        x = m.sample(len(labels), labels=labels, guidance=w, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            hit = (clf.logits(x.clamp(-1, 1)).argmax(1) == labels).float().mean().item()
        res["guidance"].append({"w": w, "class_accuracy": hit})
        grids[w] = x.view(10, args.per_class, 1, 32, 32)[:, 0]
        print(res["guidance"][-1], flush=True)
    real, _ = load_idx_images("fashion-mnist", "test")
    known = real[:8]
    mask = torch.zeros_like(known)
    mask[..., :16, :] = 1  # top half known
    inpaint = m.sample(8, known=known, mask=mask, generator=torch.Generator().manual_seed(1))
    pairs = torch.tensor([[0, 3], [5, 7], [1, 3], [8, 4]]).repeat_interleave(2, 0)
    comp = m.sample(len(pairs), labels=pairs, guidance=1.0, generator=torch.Generator().manual_seed(2))
    res["inpainting_known_pixels_unchanged"] = bool(torch.equal(inpaint[mask.bool()], known[mask.bool()]))
    res["composition_pairs"] = [[CLASSES[a], CLASSES[b]] for a, b in pairs.tolist()]
    res["wall_s"] = time.perf_counter() - t_start
    OUT.mkdir(exist_ok=True)
    (OUT / "fashion-conditional-cpu.json").write_text(json.dumps(res, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 4, figsize=(18, 4.5))
    ax[0].imshow(tile(torch.cat([grids[w] for w in grids]), 10).numpy(), cmap="gray", vmin=-1, vmax=1)
    ax[0].set_title("guidance w = 0 / 1 / 2 / 4 (rows), classes 0..9 (cols)")
    ax[1].plot([r["w"] for r in res["guidance"]], [r["class_accuracy"] for r in res["guidance"]], "o-")
    ax[1].set(xlabel="guidance w", ylabel="classifier accuracy on requested class", ylim=(0, 1))
    ax[2].imshow(tile(torch.cat([known * mask - (1 - mask), inpaint, known]), 8).numpy(), cmap="gray",
                 vmin=-1, vmax=1)
    ax[2].set_title("inpainting: masked / completed / original")
    ax[3].imshow(tile(comp, 2).numpy(), cmap="gray", vmin=-1, vmax=1)
    ax[3].set_title("composition: " + ", ".join(f"{a}+{b}" for a, b in res["composition_pairs"][::2]),
                    fontsize=8)
    for a in (ax[0], ax[2], ax[3]):
        a.axis("off")
    fig.tight_layout()
    fig.savefig(OUT / "fashion-conditional-cpu.png", dpi=110)
    print(f"{res['wall_s']:.0f}s")


if __name__ == "__main__":
    main()
