"""A Pyro regression registers its network with `pyro.module` once at import time, outside the model: SVI only optimizes parameters seen inside model/guide, so the network never trains.

Source: https://github.com/pyro-ppl/pyro/pull/996
Label: buggy
Family: sampling
Frameworks: torch, pyro
"""
import pyro
import pyro.distributions as dist
import torch
import torch.nn as nn
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import ClippedAdam


def build_net(d_in=3):
    return nn.Sequential(nn.Linear(d_in, 8), nn.Tanh(), nn.Linear(8, 1))


net = pyro.module("regressor", build_net())  # BUG


def model(x, y=None):
    sigma = pyro.sample("sigma", dist.HalfNormal(1.0))
    mu = net(x).squeeze(-1)  # BUG
    with pyro.plate("obs_plate", x.shape[0]):
        return pyro.sample("y", dist.Normal(mu, sigma), obs=y)


def guide(x, y=None):
    s = pyro.param("sigma_q", torch.tensor(0.5), constraint=dist.constraints.positive)
    pyro.sample("sigma", dist.Delta(s))


def fit(steps=3):
    x = torch.randn(24, 3)
    y = x.sum(-1) + 0.1 * torch.randn(24)
    svi = SVI(model, guide, ClippedAdam({"lr": 0.05}), Trace_ELBO())
    return [svi.step(x, y) for _ in range(steps)]


if __name__ == "__main__":
    torch.manual_seed(0)
    before = [p.detach().clone() for p in net.parameters()]
    fit()
    assert abs(pyro.param("sigma_q").item() - 0.5) > 1e-6
    assert all(torch.equal(b, p.detach()) for b, p in zip(before, net.parameters()))
