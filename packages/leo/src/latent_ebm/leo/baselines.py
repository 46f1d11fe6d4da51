"""Baselines on the same task interface: Design-Bench's "Grad. Mean" (gradient ascent on the mean
of an ensemble of MLP surrogates, from the dataset's best designs), CMA-ES on the same surrogate
(the ``cma`` package, the ``baselines`` extra), the dataset's best designs, and uniformly random
designs. Each returns (n, L) or (n, D) raw designs for ``task.score``."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latent_ebm.core.checks import check_int, check_real

from .nets import design_features, mlp
from .tasks import OfflineTask

__all__ = ["best_of_data", "cma_es", "fit_ensemble", "grad_mean", "random_designs"]


def best_of_data(task: OfflineTask, n: int = 128) -> Tensor:
    """The n training designs with the highest y."""
    check_int("n", n, low=1)
    return task.x_train[task.y_train.topk(min(n, len(task.y_train))).indices]


def random_designs(task: OfflineTask, n: int = 128, seed: int = 0) -> Tensor:
    """n uniform designs (tokens, or points in the task's bounds)."""
    g = torch.Generator().manual_seed(seed)
    if task.discrete:
        return torch.randint(0, task.n_classes, (n, task.design_dim), generator=g)
    lo, hi = task.bounds or (-1.0, 1.0)
    return lo + (hi - lo) * torch.rand(n, task.design_dim, generator=g)


def fit_ensemble(task: OfflineTask, *, n_models: int = 5, hidden: int = 128, epochs: int = 20,
                 batch_size: int = 128, lr: float = 1e-3, seed: int = 0) -> list[nn.Module]:
    """``n_models`` MLPs features(x) -> standardised y, each from its own seed and data order."""
    for name, value in (("n_models", n_models), ("hidden", hidden), ("epochs", epochs), ("batch_size", batch_size)):
        check_int(name, value, low=1)
    check_real("lr", lr, low=0.0, low_open=True)
    feats = design_features(task.x_train, task.n_classes)
    y = task.y_train
    y = (y - y.mean()) / y.std().clamp_min(1e-8)
    models = []
    for m in range(n_models):
        g = torch.Generator().manual_seed(seed * 100 + m)
        torch.manual_seed(seed * 100 + m)
        net = mlp(feats.shape[1], hidden, 1)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        for _ in range(epochs):
            for idx in torch.randperm(len(y), generator=g).split(batch_size):
                loss = F.mse_loss(net(feats[idx]).squeeze(-1), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        models.append(net.eval())
    return models


def grad_mean(task: OfflineTask, n: int = 128, *, steps: int = 100, lr: float = 0.05,
              models: list[nn.Module] | None = None, seed: int = 0) -> Tensor:
    """Gradient ascent on the ensemble mean, from the n best training designs (Design-Bench "Grad.
    Mean"). Discrete designs move in logit space (Design-Bench's ``map_to_logits``: log of the
    one-hot smoothed to 0.6 / 0.4 over the letters) through a softmax and are decoded by argmax;
    continuous designs move in x and are clipped to the task's bounds."""
    check_int("steps", steps, low=0)
    models = models or fit_ensemble(task, seed=seed)
    for net in models:
        net.requires_grad_(False)
    x0 = best_of_data(task, n)
    if task.discrete:
        c = task.n_classes
        probs = 0.6 * F.one_hot(x0, c).float() + 0.4 / c
        v = probs.log().clone().requires_grad_(True)
        read = lambda v: v.softmax(-1).flatten(1)  # noqa: E731
    else:
        v = x0.clone().float().requires_grad_(True)
        read = lambda v: v  # noqa: E731
    opt = torch.optim.Adam([v], lr=lr)
    for _ in range(steps):
        pred = torch.stack([net(read(v)).squeeze(-1) for net in models]).mean(0)
        opt.zero_grad()
        (-pred.sum()).backward()
        opt.step()
        if not task.discrete and task.bounds is not None:
            with torch.no_grad():
                v.clamp_(*task.bounds)
    return v.detach().argmax(-1) if task.discrete else v.detach()


def cma_es(task: OfflineTask, n: int = 128, *, iterations: int = 50, sigma: float = 0.5,
           models: list[nn.Module] | None = None, seed: int = 0) -> Tensor:
    """CMA-ES on the ensemble mean (Design-Bench's CMA-ES baseline, the ``cma`` package): one
    strategy per candidate, started at each of the n best training designs with step ``sigma``,
    ``iterations`` generations of cma's default population, the best point each found is the
    candidate. Discrete designs are searched in Design-Bench's logit space (as :func:`grad_mean`)
    and decoded by argmax; continuous ones in x (clipped to the task's bounds)."""
    try:
        import cma
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("the CMA-ES baseline needs the cma package: pip install 'latent-ebm-leo[baselines]'") from err
    check_int("iterations", iterations, low=1)
    check_real("sigma", sigma, low=0.0, low_open=True)
    models = models or fit_ensemble(task, seed=seed)
    x0 = best_of_data(task, n)
    c = task.n_classes
    if task.discrete:
        start = (0.6 * F.one_hot(x0, c).float() + 0.4 / c).log().flatten(1)
        read = lambda v: v.view(len(v), -1, c).softmax(-1).flatten(1)  # noqa: E731
    else:
        start = x0.float()
        read = (lambda v: v.clamp(*task.bounds)) if task.bounds is not None else (lambda v: v)  # noqa: E731

    @torch.no_grad()
    def neg_mean(points: list) -> list[float]:
        v = read(torch.as_tensor(np.asarray(points), dtype=torch.float32))
        return (-torch.stack([net(v).squeeze(-1) for net in models]).mean(0)).tolist()

    best = []
    for i in range(len(start)):
        es = cma.CMAEvolutionStrategy(start[i].double().numpy(), sigma,
                                      {"seed": seed * 1000 + i + 1, "maxiter": iterations, "verbose": -9})
        while not es.stop():
            points = es.ask()
            es.tell(points, neg_mean(points))
        best.append(torch.as_tensor(es.result.xbest, dtype=torch.float32))
    v = torch.stack(best)
    return v.view(len(v), -1, c).argmax(-1) if task.discrete else read(v)
