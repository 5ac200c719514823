"""Amortized Pyro guide that registers its encoder with pyro.module inside the guide on every call: SVI trains it.

Source: https://github.com/pyro-ppl/pyro/pull/996
Label: clean
Family: sampling
Frameworks: torch, pyro
"""
import torch
from torch import nn
import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam


def build_encoder(d_obs, d_lat):
    return nn.Sequential(nn.Linear(d_obs, 16), nn.Softplus(), nn.Linear(16, 2 * d_lat))


def make_pair(encoder, d_lat):
    def model(x):
        with pyro.plate("data", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(d_lat), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(z.sum(-1, keepdim=True).expand_as(x), 1.0).to_event(1), obs=x)

    def guide(x):
        pyro.module("encoder", encoder)
        loc, raw = encoder(x).chunk(2, dim=-1)
        with pyro.plate("data", x.shape[0]):
            pyro.sample("z", dist.Normal(loc, nn.functional.softplus(raw) + 1e-3).to_event(1))

    return model, guide


if __name__ == "__main__":
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    encoder = build_encoder(4, 2)
    model, guide = make_pair(encoder, 2)
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=Trace_ELBO())
    before = [p.detach().clone() for p in encoder.parameters()]
    x = torch.randn(32, 4) + 2.0
    for _ in range(3):
        svi.step(x)
    assert not all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
