"""The Langevin loop makes no host sync: a constant few per call (the end-of-call divergence check), whatever n_steps."""
import pytest
import torch

from latent_ebm.core.samplers import langevin

SYNCS = ("item", "__int__", "__float__", "__bool__", "tolist", "cpu", "numpy")


def _count_syncs(monkeypatch) -> list[str]:
    seen: list[str] = []
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def wrapped(self, *args, _name=name, _original=original, **kwargs):
            seen.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapped)
    return seen


@pytest.mark.parametrize("method", ["ula", "mala", "anisotropic"])
def test_host_syncs_do_not_grow_with_steps(method, monkeypatch):
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))

    def energy(x):
        return net(x).squeeze(-1) + 0.5 * (x**2).sum(-1)

    x0 = torch.randn(8, 3)
    counts = {}
    for n_steps in (3, 30):
        seen = _count_syncs(monkeypatch)
        langevin(energy, x0, n_steps, 0.1, method=method, generator=torch.Generator().manual_seed(0))
        counts[n_steps] = (len(seen), sorted(set(seen)))
        monkeypatch.undo()
    assert counts[3][0] == counts[30][0] <= 2, counts  # the end-of-call divergence check
