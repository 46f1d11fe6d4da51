"""The StarGAN-v2-style adversarial baseline (``objective: adversarial``): R1 against its closed
form on a linear discriminator, the alternating updates in StarGAN v2's order against the updated
discriminator, the simultaneous variant's gradient split, the moving average against its closed
form, a short fit that widens the discriminator's real/fake gap, named bad values, and the core's
module contract on it (exact resume with the moving average)."""

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from latent_ebm.coop_i2i import CoopI2IDataModule, CoopI2IModule
from latent_ebm.coop_i2i.model import r1_penalty
from latent_ebm.core.testing.contract import ModuleContract, tiny_trainer

TINY = dict(image_size=8, style_dim=4, latent_dim=4, dim_base=4, max_dim=8, bottleneck=4, n_bottleneck=1,
            mapping_hidden=8, mapping_shared=1, mapping_head=1, revision={"n_steps": 2, "step_size": 0.1},
            objective="adversarial", seed=0)


def _module(**kw):
    return CoopI2IModule(**{**TINY, **kw})


class _Linear(torch.nn.Module):
    """D(x)[k] = <w_k, x> + b_k: grad_x D(x)[k] = w_k for every x."""

    def __init__(self, w, b):
        super().__init__()
        self.w, self.b = torch.nn.Parameter(w), torch.nn.Parameter(b)

    def forward(self, x):
        return x.flatten(1) @ self.w.flatten(1).T + self.b


def test_r1_penalty_equals_the_closed_form_on_a_linear_discriminator():
    """R1 of a linear head k is ||w_k||², averaged over the rows' domains: with y = (0, 2, 2),
    R1 = (||w_0||² + 2 ||w_2||²) / 3; its gradient w.r.t. w_k is 2 w_k x (share of rows of k)."""
    torch.manual_seed(0)
    w, b = torch.randn(3, 3, 8, 8), torch.randn(3)
    d = _Linear(w, b)
    x = torch.randn(3, 3, 8, 8, requires_grad=True)
    y = torch.tensor([0, 2, 2])
    r1 = r1_penalty(d(x).gather(1, y[:, None]).squeeze(1), x)
    want = (w[0].square().sum() + 2 * w[2].square().sum()) / 3
    torch.testing.assert_close(r1, want)
    r1.backward()
    torch.testing.assert_close(d.w.grad[2], 2 * w[2] * 2 / 3)
    torch.testing.assert_close(d.w.grad[1], torch.zeros_like(w[1]))


def _grad(p):
    return torch.zeros_like(p) if p.grad is None else p.grad.clone()


def test_one_step_gives_each_net_only_its_own_loss():
    """Simultaneous variant: the base's one backward of (discriminator loss + generator loss): D's gradient equals that of
    softplus(-D(x)[y]) + softplus(D(x_hat)[y']) + (gamma / 2) R1 alone, and G's equals that of
    softplus(-D(x_hat)[y']) (extra losses off), i.e. the generator's loss does not leak into D."""
    torch.manual_seed(0)
    m = _module(r1_gamma=3.0, lambda_sty=0.0, lambda_ds=0.0, lambda_cyc=0.0, adversarial_updates="simultaneous")
    batch = {"x": torch.randn(6, 3, 8, 8), "y": torch.tensor([0, 1, 2, 0, 1, 2]), "index": torch.arange(6)}
    cond = m.condition(batch)
    x = m.data(batch, cond)
    fake = m.propose(batch, cond)
    assert torch.equal(m.revise(fake, cond), fake.detach())  # no revision in adversarial training
    loss_d, _ = m.energy_loss(x, fake, cond)
    loss = loss_d + m.initializer_loss(fake, fake, cond)
    loss.backward()
    got_d = [_grad(p) for p in m.descriptor.parameters()]
    got_g = [_grad(p) for p in m.translator.parameters()]
    m.zero_grad()
    xr = x.clone().requires_grad_(True)
    d_real = m.scores(xr).gather(1, cond["y"][:, None]).squeeze(1)
    by_hand = (torch.nn.functional.softplus(-d_real).mean()
               + torch.nn.functional.softplus(m.scores(fake.detach()).gather(1, cond["target"][:, None])).mean()
               + 1.5 * r1_penalty(d_real, xr))
    by_hand.backward()
    for a, p in zip(got_d, m.descriptor.parameters()):
        torch.testing.assert_close(a, _grad(p))
    m.zero_grad()
    fake = m.propose(batch, cond)
    torch.nn.functional.softplus(-m.scores(fake).gather(1, cond["target"][:, None])).mean().backward()
    for a, p in zip(got_g, m.translator.parameters()):
        torch.testing.assert_close(a, _grad(p))


def test_alternating_updates_follow_stargan_v2s_order_against_the_updated_discriminator(tmp_path):
    """One iteration (max_steps 5) steps the optimisers D, D, G+E, M, G+E (StarGAN v2's ``Solver.train``);
    D's second step starts from its first; at the first generator step G's gradient is that of
    softplus(-D(G(x, M(z)[y']))[y']) under the UPDATED D (not the initial one), D no longer moves,
    and at the reference-guided step the style encoder has no gradient (only G moves)."""
    torch.manual_seed(0)
    m = _module(lambda_sty=0.0, lambda_ds=0.0, lambda_cyc=0.0, energy_optim={"lr": 5e-2})
    assert m.optimizer_steps_per_iteration == 5
    d0 = {k: v.detach().clone() for k, v in m.descriptor.named_parameters()}
    calls, seen, failures = [], {}, []
    inner = m.alternating_updates

    def spy(loss, cond):
        seen["cond"] = cond
        return inner(loss, cond)

    m.alternating_updates = spy

    def d_now():
        return {k: v.detach().clone() for k, v in m.descriptor.named_parameters()}

    def moved(a, b):
        return any(not torch.equal(a[k], b[k]) for k in a)

    def g_grad(d_params):
        cond = seen["cond"]
        x, t = cond["source"], cond["target"]
        fake = m.translator(x, m.style(t, z=cond["z"]))
        logits = torch.func.functional_call(m.descriptor, d_params, (fake,))
        loss = F.softplus(-logits.gather(1, t[:, None])).mean()
        return torch.autograd.grad(loss, list(m.translator.parameters()), allow_unused=True)  # other levels' RGB convs

    def record(name):
        calls.append(name)
        if calls == ["D", "D"]:
            seen["d1"] = d_now()
            failures.extend(["D's second step did not start from its first"] if not moved(seen["d1"], d0) else [])
        if calls == ["D", "D", "G+E"]:
            seen["d2"] = d_now()
            got = [None if p.grad is None else p.grad.clone() for p in m.translator.parameters()]
            with torch.enable_grad():
                want, stale = g_grad(seen["d2"]), g_grad(d0)
            assert [a is None for a in got] == [b is None for b in want] and any(a is not None for a in got)
            for a, b in zip(got, want):
                if a is not None:
                    torch.testing.assert_close(a, b)
            assert any(a is not None and not torch.allclose(a, b) for a, b in zip(got, stale))
        if calls == ["D", "D", "G+E", "M", "G+E"]:
            assert all(p.grad is None for p in m.style_encoder.parameters())
            assert any(p.grad is not None for p in m.translator.parameters())

    class Hooks(L.Callback):
        def on_train_start(self, trainer, module):
            for name, opt in zip(("D", "G+E", "M"), trainer.optimizers):
                opt.register_step_pre_hook(lambda o, a, k, name=name: record(name))

    dm = CoopI2IDataModule("shapes", image_size=8, n_train=16, n_val=8, batch_size=8)
    tiny_trainer(tmp_path, max_steps=5, callbacks=[Hooks()]).fit(m, dm)
    assert not failures, failures
    assert calls == ["D", "D", "G+E", "M", "G+E"] and m.iterations == 1
    assert moved(seen["d2"], seen["d1"]) and not moved(d_now(), seen["d2"])
    ref2_ok = (seen["cond"]["y"][None] == seen["cond"]["target"][:, None]).any(1).all()
    assert ref2_ok and seen["cond"]["ref2"].shape == seen["cond"]["ref"].shape


def test_moving_average_equals_its_closed_form():
    """After n updates with the nets held at c_1..c_n, ema = beta^n p_0 + (1 - beta) sum_t beta^(n-t) c_t
    for G, E and M (not D); evaluation (eval mode) uses it, training the live nets."""
    beta = 0.7
    m = _module(ema_beta=beta)
    nets = [m.translator, m.style_encoder, m.style_generator]
    p0 = [[p.detach().clone() for p in net.parameters()] for net in nets]
    cs = [0.5, -1.0, 2.0, 0.25]
    for c in cs:
        with torch.no_grad():
            for net in nets:
                for p in net.parameters():
                    p.fill_(c)
        m.update_ema()
    n = len(cs)
    tail = (1 - beta) * sum(beta ** (n - 1 - i) * c for i, c in enumerate(cs))
    for name, start in zip(m.EMA_NETS, p0):
        for q, a in zip(m.ema[name].parameters(), start):
            torch.testing.assert_close(q, beta**n * a + tail)
            assert not q.requires_grad
    assert not hasattr(m.ema, "descriptor") and "descriptor" not in m.ema
    assert m.generator_nets()[0] is m.translator
    m.eval()
    assert m.generator_nets()[0] is m.ema["translator"] and m.generator_nets()[2] is m.ema["style_generator"]
    x, t = torch.randn(2, 3, 8, 8), torch.tensor([0, 2])
    z = torch.randn(2, 4)
    torch.testing.assert_close(m.translate(x, t, z=z), m.ema["translator"](x, m.ema["style_generator"](z)[[0, 1], t]))


def test_adversarial_fit_widens_the_real_fake_gap(tmp_path):
    """A short adversarial fit on rendered shapes: D(real)[y] - D(G(x, s))[y'] grows on held-out
    batches from ~0 at initialisation; the translator and style nets also move."""
    dm = CoopI2IDataModule("shapes", image_size=8, n_train=64, n_val=16, batch_size=16)
    dm.setup("fit")
    m = _module(energy_optim={"lr": 5e-3}, initializer_optim={"lr": 2e-3})

    def gap():
        batch = next(iter(dm.val_dataloader()))
        torch.manual_seed(1)
        with torch.no_grad():
            cond = m.condition(batch)
            fake = m.propose(batch, cond)
            real = m.scores(batch["x"]).gather(1, cond["y"][:, None]).mean()
            return float(real - m.scores(fake).gather(1, cond["target"][:, None]).mean())

    g0 = gap()
    g_before = [p.detach().clone() for p in m.translator.parameters()]
    tiny_trainer(tmp_path, max_epochs=2).fit(m, dm)
    g1 = gap()
    assert g1 > g0 + 0.2, (g0, g1)
    assert not all(torch.equal(a, b) for a, b in zip(g_before, m.translator.parameters()))
    assert m.iterations == 8


def test_bad_objective_is_named():
    with pytest.raises(ValueError, match="objective='gan' is not allowed"):
        _module(objective="gan")
    with pytest.raises(ValueError, match="r1_gamma"):
        _module(r1_gamma=-1.0)


class TestAdversarialContract(ModuleContract):
    """The core's contract on the adversarial baseline: exact resume, reload, named bad values."""

    ddp_skip_reason = "the targets and references are drawn within each rank's batch (a split-dependent draw)"
    resume_epochs = 2
    bad_values = (({"r1_gamma": -1.0}, "r1_gamma"), ({"objective": "gan"}, "objective"),
                  ({"adversarial_updates": "both"}, "adversarial_updates"), ({"ema_beta": 1.0}, "ema_beta"))

    def make_module(self, **kw):  # alternating updates with the moving average: resumed exactly
        return CoopI2IModule(**{**TINY, "seed": 3, "ema_beta": 0.5, **kw})

    def make_dataset(self):
        dm = CoopI2IDataModule("shapes", image_size=8, n_train=8)
        dm.setup("fit")
        return dm.train_set

    def check_resumed_state(self, state):
        assert state["extra"]["iterations"] == self.resume_epochs * 8 // self.batch_size
        sd = state["state_dict"]
        key = next(k for k in sd if k.startswith("translator."))
        assert not torch.equal(sd[key], sd[f"ema.{key}"])  # the average is its own state, restored too
