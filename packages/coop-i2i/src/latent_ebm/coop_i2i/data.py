"""Multi-domain image data with a known renderer, and AFHQ's shared sample images.

Rendered domains (the CPU substitute of ``shared/papers/coop-i2i.md`` section 6): a content mask
(an MNIST digit from the core registry, or a procedural shape needing no file) is drawn in one of
K = 3 domains, each a rendering family with a continuous within-domain style u in [0, 1]^4
(hue, brightness, stroke width, background / stripe angle):

- domain 0 ``warm``: warm ink (red to yellow) on a dark background;
- domain 1 ``cool``: cool ink (cyan to violet) on a light grey background;
- domain 2 ``striped``: green ink modulated by stripes at angle pi*u3 on a mid-grey background.

Because the renderer is known, ``render(mask_src, domain_ref, style_ref)`` is the exact target of
reference-guided translation (``x_oracle`` in validation/test batches).

AFHQ (``afhq``): the 43 StarGAN v2 sample images of the core registry (cat / dog / wild), resized
to ``image_size``; ``ref/`` is the training split, ``src/`` validation and test. A pipeline check
(loading, resizing, labels, one paper-config step), not a benchmark.

Batches: ``{"x": (B, 3, S, S) in [-1, 1], "y": domain (B,), "index": (B,), "content": (B,)}``;
validation/test batches add ``x_ref``, ``y_ref`` (a fixed reference per example, from another
domain) and, for rendered data, ``x_oracle`` (the source re-rendered with the reference's domain
and style).
"""

from __future__ import annotations

import gzip
import math
from typing import Literal

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from latent_ebm.core.checks import check_choice, check_int, require
from latent_ebm.core.data import epoch_loader, get_file, get_spec

__all__ = ["AFHQ_DOMAINS", "DATASETS", "DOMAINS", "CoopI2IDataModule", "hsv_to_rgb", "load_afhq", "load_digits",
           "render", "shape_masks"]

DOMAINS = ("warm", "cool", "striped")
AFHQ_DOMAINS = ("cat", "dog", "wild")
DATASETS = ("shapes", "digits", "afhq")
DatasetName = Literal["shapes", "digits", "afhq"]
STYLE_DIM = 4  # u = (hue, brightness, stroke width, background / stripe angle)


def hsv_to_rgb(h: Tensor, s: Tensor, v: Tensor) -> Tensor:
    """(N,) hue in [0, 1), saturation, value -> (N, 3) RGB in [0, 1]."""
    n = torch.tensor([5.0, 3.0, 1.0], dtype=h.dtype, device=h.device)
    k = (n + h[:, None] * 6.0) % 6.0
    return v[:, None] - v[:, None] * s[:, None] * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0)


def render(mask: Tensor, domain: Tensor, style: Tensor) -> Tensor:
    """Draw content masks (N, 1, S, S) in [0, 1] in ``domain`` (N,) with style u (N, 4) in [0, 1]:
    (N, 3, S, S) in [-1, 1]. Deterministic; see the module docstring for the three families."""
    require("domain", tuple(domain.shape), domain.dim() == 1 and len(domain) == len(mask), "one domain per mask")
    bad = (domain < 0) | (domain >= len(DOMAINS))
    require("domain", domain[bad].tolist()[:3], not bool(bad.any()), f"domains are 0..{len(DOMAINS) - 1}")
    u = style.to(mask.dtype)
    # stroke width: blend the mask with its 3x3 dilation
    thick = F.max_pool2d(mask, 3, 1, 1)
    m = (1 - u[:, 2, None, None, None]) * mask + u[:, 2, None, None, None] * thick
    one = torch.ones_like(u[:, 0])
    hue = torch.stack([0.0 + 0.14 * u[:, 0], 0.50 + 0.22 * u[:, 0], 0.25 + 0.12 * u[:, 0]], 1)
    val = torch.stack([0.65 + 0.35 * u[:, 1], 0.35 + 0.40 * u[:, 1], 0.55 + 0.45 * u[:, 1]], 1)
    d = domain.long()
    ink = hsv_to_rgb(hue.gather(1, d[:, None])[:, 0], 0.85 * one, val.gather(1, d[:, None])[:, 0])  # (N, 3)
    bg_level = torch.stack([0.05 + 0.20 * u[:, 3], 0.70 + 0.25 * u[:, 3], 0.35 * one], 1).gather(1, d[:, None])
    bg = bg_level[:, :, None, None].expand(-1, 3, 1, 1)
    if d.eq(1).any():  # cool domain: a slightly warm paper tone
        bg = torch.where(d.eq(1)[:, None, None, None], bg * torch.tensor([1.0, 0.97, 0.9]).view(1, 3, 1, 1), bg)
    size = mask.shape[-1]
    c = torch.linspace(-1, 1, size, dtype=mask.dtype)
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    ang = math.pi * u[:, 3, None, None]
    stripes = 0.55 + 0.45 * torch.cos(2 * math.pi * 3.0 * (xx * ang.cos() + yy * ang.sin()))  # (N, S, S)
    mod = torch.where(d.eq(2)[:, None, None], stripes, torch.ones_like(stripes))[:, None]
    img = bg * (1 - m) + ink[:, :, None, None] * mod * m
    return (2 * img - 1).clamp(-1, 1)


def shape_masks(n: int, size: int, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Procedural content (no data file): (n, 1, size, size) soft masks of a ring, a square outline
    or a cross at a random centre and scale, and their class (n,) in 0..2."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.randint(0, 3, (n,), generator=g)
    centre = (torch.rand(n, 2, generator=g) - 0.5) * 0.5
    scale = 0.35 + 0.3 * torch.rand(n, generator=g)
    c = torch.linspace(-1, 1, size)
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    dx = (xx - centre[:, 0, None, None]) / scale[:, None, None]
    dy = (yy - centre[:, 1, None, None]) / scale[:, None, None]
    w = 4.0 / size / scale[:, None, None]  # about 2 px wide strokes
    ring = ((dx**2 + dy**2).sqrt() - 1).abs() < w
    square = ((torch.maximum(dx.abs(), dy.abs()) - 0.9).abs() < w)
    cross = ((dx.abs() < w) | (dy.abs() < w)) & (torch.maximum(dx.abs(), dy.abs()) < 1.0)
    masks = torch.stack([ring, square, cross], 1).float()  # (n, 3, S, S)
    return masks.gather(1, cls.view(-1, 1, 1, 1).expand(-1, 1, size, size)), cls


def load_digits(split: Literal["train", "test"], size: int, start: int = 0, n: int | None = None
                ) -> tuple[Tensor, Tensor]:
    """MNIST digits ``start:start + n`` (n None: to the end; start < 0 counts from the end) of the
    core registry as masks (N, 1, size, size) in [0, 1] and labels (N,)."""
    prefix = "train" if split == "train" else "t10k"
    with gzip.open(get_file("mnist", f"{prefix}-images-idx3-ubyte.gz"), "rb") as fh:
        raw = np.frombuffer(fh.read(), np.uint8, offset=16)
    with gzip.open(get_file("mnist", f"{prefix}-labels-idx1-ubyte.gz"), "rb") as fh:
        labels = np.frombuffer(fh.read(), np.uint8, offset=8)
    total = len(labels)
    lo = start % total if start < 0 else start
    hi = total if n is None else lo + n
    require("n", n, hi <= total, f"there are {total} {split} digits")
    x = torch.from_numpy(raw.reshape(-1, 28, 28)[lo:hi].copy())[:, None].float() / 255.0
    labels = labels[lo:hi]
    x = F.pad(x, (2, 2, 2, 2))
    if size != 32:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0, 1), torch.from_numpy(labels.astype(np.int64))


def load_afhq(part: Literal["ref", "src"], size: int) -> tuple[Tensor, Tensor]:
    """The registry's AFHQ samples of ``part`` as (N, 3, size, size) in [-1, 1] and domain (N,)
    (cat 0, dog 1, wild 2), in file-name order, resized with Pillow's Lanczos filter."""
    from PIL import Image

    names = sorted(f.name for f in get_spec("afhq-stargan-v2-samples").files if f.name.startswith(part + "/"))
    xs, ys = [], []
    for name in names:
        with Image.open(get_file("afhq-stargan-v2-samples", name)) as im:
            im = im.convert("RGB").resize((size, size), Image.LANCZOS)
            xs.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 127.5 - 1.0)
        ys.append(AFHQ_DOMAINS.index(name.split("/")[1]))
    return torch.stack(xs), torch.tensor(ys)


class _Images(Dataset):
    """Items {"x", "y", "index", "content"} plus, with ``pairs``, a fixed reference per item."""

    def __init__(self, x: Tensor, y: Tensor, content: Tensor, *, masks: Tensor | None = None,
                 style: Tensor | None = None, ref: Tensor | None = None) -> None:
        self.x, self.y, self.content, self.masks, self.style, self.ref = x, y, content, masks, style, ref

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        item = {"x": self.x[i], "y": self.y[i], "index": torch.tensor(i), "content": self.content[i]}
        if self.ref is not None:
            j = int(self.ref[i])
            item |= {"x_ref": self.x[j], "y_ref": self.y[j]}
            if self.masks is not None:
                item["x_oracle"] = render(self.masks[i: i + 1], self.y[j: j + 1], self.style[j: j + 1])[0]
        return item


def _references(y: Tensor, seed: int) -> Tensor:
    """For each item a fixed reference index from another domain (the same domain if only one)."""
    g = torch.Generator().manual_seed(seed)
    ref = torch.empty(len(y), dtype=torch.long)
    for i in range(len(y)):
        others = (y != y[i]).nonzero().flatten()
        pool = others if len(others) else torch.arange(len(y))
        ref[i] = pool[torch.randint(len(pool), (1,), generator=g)]
    return ref


class CoopI2IDataModule(L.LightningDataModule):
    """Train / validation / test splits of rendered shapes or digits, or AFHQ's sample images.

    Args: dataset (``shapes``: procedural, no file; ``digits``: MNIST from the registry; ``afhq``),
        image_size (a power of 2 >= 8), batch_size, n_train / n_val / n_test (rendered data: the
        first n of each split; AFHQ uses its 28 ``ref`` images for training and its 15 ``src`` for
        validation and test), seed (domains, styles, shapes, references and the shuffle),
        predict_n (source images ``predict`` translates; ``predict --n N``), num_workers.
    """

    def __init__(self, dataset: DatasetName = "shapes", image_size: int = 32, batch_size: int = 32,
                 n_train: int = 2000, n_val: int = 200, n_test: int = 200, seed: int = 0, predict_n: int = 8,
                 num_workers: int = 0) -> None:
        super().__init__()
        check_choice("dataset", dataset, DATASETS)
        check_int("image_size", image_size, low=8)
        require("image_size", image_size, image_size & (image_size - 1) == 0, "it must be a power of 2")
        check_int("batch_size", batch_size, low=1)
        for name, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("predict_n", predict_n)):
            check_int(name, v, low=1)
        check_int("num_workers", num_workers, low=0)
        self.predict_n = predict_n
        self.n_domains = 3
        self.save_hyperparameters()
        self.train_set = self.val_set = self.test_set = None

    def prepare_data(self) -> None:
        d = self.hparams.dataset
        if d == "digits":
            for prefix in ("train", "t10k"):
                get_file("mnist", f"{prefix}-images-idx3-ubyte.gz")
                get_file("mnist", f"{prefix}-labels-idx1-ubyte.gz")
        elif d == "afhq":
            for f in get_spec("afhq-stargan-v2-samples").files:
                get_file("afhq-stargan-v2-samples", f.name)

    def rendered(self, split: str, n: int, *, pairs: bool) -> _Images:
        """n rendered examples of ``split`` (``train`` / ``val`` / ``test``): random domain and style."""
        h = self.hparams
        k = {"train": 0, "val": 1, "test": 2}[split]
        if h.dataset == "shapes":
            masks, content = shape_masks(n, h.image_size, seed=h.seed * 7 + k)
        else:
            masks, content = load_digits("test" if split == "test" else "train", h.image_size,
                                         start=-n if split == "val" else 0, n=n)
        g = torch.Generator().manual_seed(h.seed * 7 + 3 + k)
        y = torch.randint(0, 3, (n,), generator=g)
        style = torch.rand(n, STYLE_DIM, generator=g)
        x = render(masks, y, style)
        ref = _references(y, h.seed * 7 + 5 + k) if pairs else None
        return _Images(x, y, content, masks=masks, style=style, ref=ref)

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        if h.dataset == "afhq":
            x, y = load_afhq("ref", h.image_size)
            self.train_set = _Images(x, y, y)
            xs, ys = load_afhq("src", h.image_size)
            self.val_set = self.test_set = _Images(xs, ys, ys, ref=_references(ys, h.seed))
            return
        if stage in (None, "fit", "validate", "predict"):
            self.train_set = self.rendered("train", h.n_train, pairs=False)
            self.val_set = self.rendered("val", h.n_val, pairs=True)
        if stage in (None, "test", "predict"):
            self.test_set = self.rendered("test", h.n_test, pairs=True)

    def _loader(self, ds: Dataset | None, shuffle: bool = False, drop_last: bool = False) -> DataLoader:
        h = self.hparams
        if shuffle:  # (seed, epoch)-keyed order that resumes exactly, in mid-epoch too (the core's epoch_loader)
            return epoch_loader(ds, h.batch_size, seed=h.seed, trainer=self.trainer, num_workers=h.num_workers,
                                drop_last=drop_last)
        return DataLoader(ds, batch_size=h.batch_size, num_workers=h.num_workers, drop_last=drop_last)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        """The first ``predict_n`` test (AFHQ: ``src``) examples, each with its reference."""
        ds = self.test_set if self.test_set is not None else self.val_set
        n = min(self.predict_n, len(ds))
        return DataLoader(torch.utils.data.Subset(ds, range(n)), batch_size=n)
