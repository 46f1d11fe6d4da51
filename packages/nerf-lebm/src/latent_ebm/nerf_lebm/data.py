"""Data: the procedural multi-view objects (offline default) and the NeRF synthetic lego views.

``objects``: ``scenes.make_scenes``: one training view per object (training split), one input view
plus ``held_out_views`` novel views per object (validation and test splits, other objects).
``lego``: ``nerf-lego-train`` from the core registry (100 views with poses, 100x100 RGBA composited
on white, resized to ``image_size`` by area averaging); views 0-89 train, 90-99 validation = test.
Batches: {"x": (B, 3, H, W) in [0, 1], "pose": (B, 4, 4) OpenGL c2w, "mask": (B, 1, H, W) (0 =
pixel missing from the likelihood), "angles": (B, 2), "index": (B,)} and, for held-out views,
"views": (B, V, 3, H, W), "view_poses": (B, V, 4, 4).
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from latent_ebm.core.checks import check_choice, check_int, check_real
from latent_ebm.core.data import epoch_loader, get_file

from .scenes import make_scenes

__all__ = ["NeRFLEBMDataModule", "load_lego", "occlusion_masks"]

LEGO = "nerf-lego-train"


class _Views(Dataset):
    """Rows of equal-length tensors as dicts, plus ``index``."""

    def __init__(self, **tensors: torch.Tensor) -> None:
        self.tensors = tensors
        self.n = len(next(iter(tensors.values())))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {**{k: v[i] for k, v in self.tensors.items()}, "index": torch.tensor(i)}


def occlusion_masks(n: int, size: int, fraction: float, seed: int) -> torch.Tensor:
    """(n, 1, size, size) masks with a random square hole of side ``fraction * size`` (0 = missing)."""
    mask = torch.ones(n, 1, size, size)
    side = int(round(fraction * size))
    if side == 0:
        return mask
    g = torch.Generator().manual_seed(seed)
    corners = torch.randint(0, size - side + 1, (n, 2), generator=g)
    for m, (r, c) in zip(mask, corners.tolist()):
        m[:, r:r + side, c:c + side] = 0
    return mask


def load_lego(image_size: int, *, source: int = 100) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(images (100, 3, S, S) on white, poses (100, 4, 4), camera_angle_x in degrees)."""
    path = get_file(LEGO, f"lego_train_{source}x{source}.npz")
    with np.load(path) as f:
        rgba = torch.from_numpy(f["images"]).float().div(255).permute(0, 3, 1, 2)
        poses = torch.from_numpy(f["poses"]).float()
        fov = float(np.degrees(f["camera_angle_x"]))
    rgb = rgba[:, :3] * rgba[:, 3:] + (1 - rgba[:, 3:])
    if image_size != source:
        rgb = F.interpolate(rgb, size=(image_size, image_size), mode="area")
    return rgb, poses, fov


class NeRFLEBMDataModule(L.LightningDataModule):
    """Train / validation / test splits of the procedural objects or the lego scene.

    Args: dataset (``objects`` | ``lego``), image_size, n_train, n_val, n_test (objects),
        held_out_views (novel views per validation/test object), occlusion (side of a square
        hole dropped from the likelihood in training images, as a fraction of the image; 0: none),
        batch_size, seed, predict_n (prior samples ``predict`` renders; ``predict --n N``).
    """

    def __init__(self, dataset: Literal["objects", "lego"] = "objects", image_size: int = 32, n_train: int = 1000,
                 n_val: int = 32, n_test: int = 64, held_out_views: int = 4, occlusion: float = 0.0,
                 batch_size: int = 16, seed: int = 0, predict_n: int = 8) -> None:
        super().__init__()
        check_choice("dataset", dataset, ("objects", "lego"))
        check_int("image_size", image_size, low=4, high=200)
        for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("batch_size", batch_size),
                            ("predict_n", predict_n), ("held_out_views", held_out_views)):
            check_int(name, value, low=1)
        check_real("occlusion", occlusion, low=0.0, high=1.0, high_open=True)
        self.predict_n = predict_n
        self.save_hyperparameters()

    def _objects(self, n: int, offset: int, views: int) -> dict[str, torch.Tensor]:
        h = self.hparams
        s = make_scenes(n, views, h.image_size, seed=h.seed * 7 + offset)
        out = {"x": s.images[:, 0], "pose": s.poses[:, 0], "angles": s.angles[:, 0],
               "mask": torch.ones(n, 1, h.image_size, h.image_size), "shape": s.shape, "colour": s.colour}
        if views > 1:
            out |= {"views": s.images[:, 1:], "view_poses": s.poses[:, 1:]}
        return out

    def setup(self, stage: str | None = None) -> None:
        h = self.hparams
        if h.dataset == "lego":
            rgb, poses, _ = load_lego(h.image_size)
            ones = torch.ones(len(rgb), 1, h.image_size, h.image_size)
            zeros = torch.zeros(len(rgb), 2)
            self.train_set = _Views(x=rgb[:90], pose=poses[:90], mask=ones[:90], angles=zeros[:90])
            self.val_set = self.test_set = _Views(x=rgb[90:], pose=poses[90:], mask=ones[90:], angles=zeros[90:])
            return
        train = self._objects(h.n_train, 0, 1)
        train["mask"] = occlusion_masks(h.n_train, h.image_size, h.occlusion, h.seed * 7 + 3)
        self.train_set = _Views(**train)
        self.val_set = _Views(**self._objects(h.n_val, 1, 1 + h.held_out_views))
        self.test_set = _Views(**self._objects(h.n_test, 2, 1 + h.held_out_views))

    def train_dataloader(self) -> DataLoader:
        # (seed, epoch)-keyed order, skipping what a mid-epoch checkpoint already trained on: a
        # resumed run sees the order of an uninterrupted one
        return epoch_loader(self.train_set, self.hparams.batch_size, seed=self.hparams.seed, trainer=self.trainer)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(self.test_set, batch_size=self.hparams.batch_size)

    def predict_dataloader(self) -> DataLoader:
        """``predict_n`` placeholder rows: the model draws one prior sample per row."""
        s = self.hparams.image_size
        return DataLoader(_Views(x=torch.zeros(self.predict_n, 3, s, s)), batch_size=self.hparams.batch_size)
