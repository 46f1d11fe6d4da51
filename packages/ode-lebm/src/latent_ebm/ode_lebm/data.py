"""DataModules: every dataset generated locally, irregularly sampled, with a test horizon longer
than the training one, and a changed-dynamics test set for OOD detection.

Protocol (MoNODE-style; Auzina et al. 2023): training sequences cover ``train_steps`` points
of which a random ``obs_fraction`` is observed (irregular sampling, a per-sequence mask). Test
sequences cover ``test_steps`` points; a random ``test_obs_fraction`` of the first
``train_steps`` is observed, the rest of that window is scored as *interpolation*, and
everything after it as *extrapolation*.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from latent_ebm.core.checks import check_choice, check_int, check_real, require
from latent_ebm.core.data import epoch_loader
from latent_ebm.ode_lebm.hopper import hopper_sequences
from latent_ebm.ode_lebm.systems import Sequences, damped_oscillators, lotka_volterra, sinusoids
from latent_ebm.ode_lebm.video import bouncing_balls, rotating_images

__all__ = ["DATASETS", "ODELEBMDataModule", "SequenceDataset", "make_sequences"]

DatasetName = Literal["sinusoids", "damped_oscillators", "lotka_volterra", "bouncing_balls",
                      "rotating_mnist", "hopper"]

def _sin(n: int, steps: int, seed: int, noise: float | None, shifted: bool, static: bool,
         dt: float | None = None, **ranges: tuple[float, float]) -> Sequences:
    kw = {"frequency": (2.5, 3.5)} if shifted else {}
    if static:
        kw["offset"] = (-1.0, 1.0)
    kw = kw | ranges if not shifted else ranges | kw
    return sinusoids(n, steps, dt or 0.1, noise_std=0.05 if noise is None else noise, seed=seed, **kw)


def _damped(n: int, steps: int, seed: int, noise: float | None, shifted: bool, static: bool,
            dt: float | None = None, **ranges: tuple[float, float]) -> Sequences:
    kw = {"damping": (0.4, 0.6)} if shifted else {}
    kw = kw | ranges if not shifted else ranges | kw
    return damped_oscillators(n, steps, dt or 0.1, noise_std=0.05 if noise is None else noise, seed=seed, **kw)


def _lv(n: int, steps: int, seed: int, noise: float | None, shifted: bool, static: bool,
        dt: float | None = None, **ranges: tuple[float, float]) -> Sequences:
    kw = {"alpha": (1.6, 2.0), "gamma": (0.5, 0.7)} if shifted else {}
    kw = kw | ranges if not shifted else ranges | kw
    return lotka_volterra(n, steps, dt or 0.1, noise_std=0.05 if noise is None else noise, seed=seed, **kw)


def _balls(n: int, steps: int, seed: int, noise: float | None, shifted: bool, static: bool,
           dt: float | None = None, **ranges: tuple[float, float]) -> Sequences:
    kw = {"speed": (0.5, 1.0), "size": 16} | ranges | ({"speed": (1.5, 2.0)} if shifted else {})
    return bouncing_balls(n, steps, dt or 1.0, seed=seed, **kw)


def _rot(n: int, steps: int, seed: int, noise: float | None, shifted: bool, static: bool,
         dt: float | None = None, **ranges: tuple[float, float]) -> Sequences:
    w = 2 * math.pi / (8 if shifted else 16)
    kw = {"size": 16} | ranges | ({"angular_velocity": (w, w)} if shifted or "angular_velocity" not in ranges else {})
    return rotating_images(n, steps, dt or 1.0, seed=seed, **kw)


def _hopper(n: int, steps: int, seed: int, noise: float | None, shifted: bool, static: bool,
            dt: float | None = None, **ranges: tuple[float, float]) -> Sequences:
    require("ranges", ranges, not ranges, "hopper takes no parameter ranges")
    # One point every 4 control steps (40 ms). Min-max bounds come from a fixed reference set of
    # 256 trajectories x 200 steps (Rubanova et al.'s length), so every split is scaled alike.
    _, bounds = hopper_sequences(256, 200, every=1, seed=1234)
    seqs, _ = hopper_sequences(n, steps * 4, every=4, seed=seed, bounds=bounds,
                               gravity=4.9 if shifted else 9.81)
    return seqs


DATASETS: dict[str, tuple[Callable[..., Sequences], str]] = {
    "sinusoids": (_sin, "vector"),
    "damped_oscillators": (_damped, "vector"),
    "lotka_volterra": (_lv, "vector"),
    "bouncing_balls": (_balls, "frames"),
    "rotating_mnist": (_rot, "frames"),
    "hopper": (_hopper, "vector"),
}


def make_sequences(name: str, n: int, n_steps: int, *, seed: int = 0, noise_std: float | None = None,
                   shifted: bool = False, static: bool = False, dt: float | None = None,
                   ranges: dict[str, tuple[float, float]] | None = None) -> Sequences:
    """Generate ``n`` sequences of ``n_steps`` points of dataset ``name`` (see DATASETS);
    ``shifted`` draws dynamical parameters outside the training ranges; ``static`` adds a
    per-sequence static factor where the dataset has one (sinusoid offsets); ``dt`` overrides
    the dataset's time step (not for hopper, whose step is fixed by the simulator); ``ranges``
    overrides keyword arguments of the generator (e.g. ``{"frequency": (1.0, 1.5)}``) for the
    training distribution (a shifted set keeps its own changed ranges)."""
    check_choice("name", name, sorted(DATASETS))
    check_int("n", n, low=1)
    return DATASETS[name][0](n, n_steps, seed, noise_std, shifted, static, dt, **(ranges or {}))


class SequenceDataset(Dataset):
    """Items {x (T, ...), t (T,), mask (T,), interp_mask (T,), extrap_mask (T,), params, index}."""

    def __init__(self, seqs: Sequences, mask: torch.Tensor, interp_mask: torch.Tensor,
                 extrap_mask: torch.Tensor) -> None:
        self.seqs, self.mask, self.interp, self.extrap = seqs, mask, interp_mask, extrap_mask

    def __len__(self) -> int:
        return self.seqs.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.seqs.x[i], "t": self.seqs.t, "mask": self.mask[i], "interp_mask": self.interp[i],
                "extrap_mask": self.extrap[i], "params": self.seqs.params[i], "index": torch.tensor(i)}


def observation_masks(n: int, n_steps: int, window: int, fraction: float,
                      gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mask, interp_mask, extrap_mask), each (n, n_steps): a random ``fraction`` of the first
    ``window`` points observed (at least one), the others of the window held out, the rest
    after the window extrapolated."""
    check_real("fraction", fraction, low=0.0, low_open=True, high=1.0)
    check_int("window", window, low=1, high=n_steps)
    k = max(1, round(fraction * window))
    ranks = torch.rand(n, window, generator=gen).argsort(1)
    in_win = torch.zeros(n, window).scatter_(1, ranks[:, :k], 1.0)
    mask = torch.zeros(n, n_steps)
    mask[:, :window] = in_win
    interp = torch.zeros(n, n_steps)
    interp[:, :window] = 1 - in_win
    extrap = torch.zeros(n, n_steps)
    extrap[:, window:] = 1
    return mask, interp, extrap




class ODELEBMDataModule(L.LightningDataModule):
    """Train / val / test splits of one generated dataset (all offline, seeded).

    ``test_shift="dynamics"`` makes val and test use changed dynamics (parameter ranges outside
    the training ones); the ``ood`` split always has them. ``test`` scores the test split
    (``n_test`` sequences, drawn from their own seed), never the validation one.

    ``predict_n`` (``predict --n N``): how many sequences ``predict`` forecasts: the first N of
    the test split, or, when N exceeds ``n_test``, a split of N sequences drawn as the test one
    (same horizon, masks and dynamics, the test split's seed); None: the whole test split.
    """

    def __init__(
        self,
        *,
        dataset: DatasetName = "sinusoids",
        n_train: int = 300,
        n_val: int = 50,
        n_test: int = 50,
        train_steps: int = 50,
        test_steps: int = 150,
        obs_fraction: float = 0.5,
        test_obs_fraction: float = 0.5,
        noise_std: float | None = None,
        dt: float | None = None,
        ranges: dict[str, tuple[float, float]] | None = None,
        static_factor: bool = False,
        test_shift: Literal["none", "dynamics"] = "none",
        batch_size: int = 32,
        num_workers: int = 0,
        seed: int = 0,
        predict_n: int | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        check_choice("dataset", dataset, sorted(DATASETS))
        for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test), ("batch_size", batch_size)):
            check_int(name, value, low=1)
        check_int("train_steps", train_steps, low=2)
        check_int("test_steps", test_steps, low=2)
        require("test_steps", test_steps, test_steps >= train_steps,
                f"the test horizon must be at least the training one, train_steps={train_steps}")
        check_real("obs_fraction", obs_fraction, low=0.0, low_open=True, high=1.0)
        check_real("test_obs_fraction", test_obs_fraction, low=0.0, low_open=True, high=1.0)
        check_real("noise_std", noise_std, low=0.0, allow_none=True)
        check_real("dt", dt, low=0.0, low_open=True, allow_none=True)
        check_choice("test_shift", test_shift, ("none", "dynamics"))
        check_int("num_workers", num_workers, low=0)
        check_int("predict_n", predict_n, low=1, allow_none=True)
        self.predict_n = predict_n
        self.obs_kind = DATASETS[dataset][1]

    def split(self, name: Literal["train", "val", "test", "ood"], n: int | None = None) -> SequenceDataset:
        """Build one split; ``ood`` is the test split with changed dynamics; ``n`` overrides the
        split's size (the sequences are drawn from the split's own seed either way)."""
        h = self.hparams
        offsets = {"train": 0, "val": 1, "test": 2, "ood": 3}
        check_choice("split", name, sorted(offsets))
        seed = h.seed * 10 + offsets[name]
        if n is None:
            n = {"train": h.n_train, "val": h.n_val, "test": h.n_test, "ood": h.n_test}[name]
        check_int("n", n, low=1)
        shifted = name == "ood" or (name != "train" and h.test_shift == "dynamics")
        steps = h.train_steps if name == "train" else h.test_steps
        seqs = make_sequences(h.dataset, n, steps, seed=1234 + seed, noise_std=h.noise_std,
                              shifted=shifted, static=h.static_factor, dt=h.dt,
                              ranges=h.ranges)
        gen = torch.Generator().manual_seed(seed)
        if name == "train":
            masks = observation_masks(n, steps, steps, h.obs_fraction, gen)
        else:
            masks = observation_masks(n, steps, h.train_steps, h.test_obs_fraction, gen)
        return SequenceDataset(seqs, *masks)

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.split_cache("val").seqs.x.shape[2:])

    def split_cache(self, name: str) -> SequenceDataset:
        cache = self.__dict__.setdefault("_splits", {})
        if name not in cache:
            cache[name] = self.split(name)
        return cache[name]

    def setup(self, stage: str | None = None) -> None:
        names = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for name in names.get(stage, ("train", "val", "test")):
            self.split_cache(name)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        ds = self.split_cache(name)
        h = self.hparams
        if shuffle:  # resumes exactly, in mid-epoch too (the core's epoch_loader)
            return epoch_loader(ds, h.batch_size, seed=h.seed, trainer=self.trainer, num_workers=h.num_workers)
        return DataLoader(ds, batch_size=h.batch_size, num_workers=h.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_set(self) -> Dataset:
        """The sequences ``predict`` forecasts (see ``predict_n``)."""
        n = self.predict_n
        if n is None:
            return self.split_cache("test")
        check_int("predict_n", n, low=1)
        if n <= self.hparams.n_test:
            return Subset(self.split_cache("test"), range(n))
        return self.split("test", n=n)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(self.predict_set(), batch_size=self.hparams.batch_size,
                          num_workers=self.hparams.num_workers)
