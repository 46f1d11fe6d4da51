"""One model, one dataset, one seed of ``bench_prediction.py``, then its extrapolation MSE under
several prediction rules on the same trained model: for ODE-LEBM / the Gaussian prior the
lowest-energy of K chains (``bestK``) vs the mean over K chains (``avgK``); for the latent ODE the
decoded mean of q(z0 | x) (``q_mean``) vs the mean over K samples of q (``avgK``).

    OMP_NUM_THREADS=1 python benchmarks/probe_prediction.py lotka_volterra ode-lebm --seed 0 --chains 2,8
    OMP_NUM_THREADS=1 python benchmarks/probe_prediction.py lotka_volterra latent-ode --steps-scale 4
    OMP_NUM_THREADS=1 python benchmarks/probe_prediction.py lotka_volterra ode-lebm --set latent_dim=2
    OMP_NUM_THREADS=1 python benchmarks/probe_prediction.py lotka_volterra ode-lebm --data n_train=1000

Prints one JSON line (the README's "probe" figures); writes nothing.
"""
from __future__ import annotations

import argparse
import json

import lightning as L
import torch
from bench_prediction import MODELS, SETUPS, _batch, _model

from latent_ebm.ode_lebm import ODELEBMDataModule
from latent_ebm.ode_lebm.sequence import (
    check_batch,
    mean_from_output,
    observed_window,
    prediction_errors,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset", choices=sorted(SETUPS))
    ap.add_argument("model", choices=MODELS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps-scale", type=float, default=1.0)
    ap.add_argument("--chains", default="2,8", help="K values, comma-separated")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a model setting of the dataset's setup, e.g. --set latent_dim=2")
    ap.add_argument("--data", action="append", default=[], metavar="KEY=VALUE",
                    help="override a data setting of the dataset's setup, e.g. --data n_train=1000")
    args = ap.parse_args()
    torch.set_num_threads(1)
    setup = SETUPS[args.dataset]
    for item in args.set:
        key, _, value = item.partition("=")
        setup = {**setup, "model": {**setup["model"], key: json.loads(value)}}
    for item in args.data:
        key, _, value = item.partition("=")
        setup = {**setup, "data": {**setup["data"], key: json.loads(value)}}
    L.seed_everything(args.seed, verbose=False)
    dm = ODELEBMDataModule(dataset=args.dataset, seed=args.seed, **setup["data"])
    model = _model(args.model, setup, setup["data"]["n_train"], args.seed)
    steps = max(1, round(setup["steps"] * args.steps_scale)) * (2 if args.model == "ode-lebm" else 1)
    L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False, inference_mode=False,
              limit_val_batches=0, num_sanity_val_steps=0).fit(model, dm)
    test = _batch(dm.split("test"))
    x, t, mask = check_batch(test, model.obs_shape)
    xo, to, mo = observed_window(x, t, mask)
    lik = model.hparams.likelihood
    extrap = lambda pred: float(prediction_errors(pred, test)["extrap"].mean())  # noqa: E731
    res: dict[str, float] = {}
    with torch.no_grad():
        if args.model == "latent-ode":
            mu, logvar = model.encoder(xo, to, mo)
            res["q_mean"] = extrap(mean_from_output(model.decode(mu, t), lik))
            for k in map(int, args.chains.split(",")):
                z = mu + (0.5 * logvar).exp() * torch.randn(k, *mu.shape)
                res[f"avg{k}"] = extrap(torch.stack([mean_from_output(model.decode(zi, t), lik) for zi in z]).mean(0))
        else:
            for k in map(int, args.chains.split(",")):
                with torch.enable_grad():
                    u, energy = model.infer_chains({"x": xo, "t": to, "mask": mo}, schedule=model.eval_schedule, n_chains=k)
                out = mean_from_output(model.decode(u.flatten(0, 1), t), lik).view(x.shape[0], k, *x.shape[1:])
                res[f"best{k}"] = extrap(out[torch.arange(x.shape[0]), energy.argmin(1)])
                res[f"avg{k}"] = extrap(out.mean(1))
    train_mean = dm.split_cache("train").seqs.x.mean((0, 1))
    res["mean_predictor"] = extrap(train_mean.expand_as(test["x"]).clone())
    print(json.dumps({"dataset": args.dataset, "model": args.model, "seed": args.seed,
                      "steps_scale": args.steps_scale, "set": args.set, "data": args.data, **{k: round(v, 4) for k, v in res.items()}}))


if __name__ == "__main__":
    main()
