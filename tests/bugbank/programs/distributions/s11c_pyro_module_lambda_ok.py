"""A Pyro regression that takes its mean function as an argument and lifts it with `pyro.module` inside the model on every call (the lambda pattern): SVI trains the network.

Source: https://github.com/pyro-ppl/pyro/issues/995
Label: clean
Family: sampling
Frameworks: torch, pyro
"""
import pyro
import pyro.distributions as dist
import torch
from torch import nn
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam


def make_model(mean_fn):
    def model(x, y=None):
        sigma = pyro.sample("sigma", dist.HalfNormal(1.0))
        mu = mean_fn(x).squeeze(-1)
        with pyro.plate("obs_plate", x.shape[0]):
            pyro.sample("y", dist.Normal(mu, sigma), obs=y)
    return model


def guide(x, y=None):
    s = pyro.param("sigma_q", torch.tensor(0.5), constraint=dist.constraints.positive)
    pyro.sample("sigma", dist.Delta(s))


if __name__ == "__main__":
    torch.manual_seed(0)
    pyro.clear_param_store()
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    model = make_model(lambda x: pyro.module("regressor", net)(x))
    x = torch.randn(24, 3)
    y = x.sum(-1) + 0.1 * torch.randn(24)
    svi = SVI(model, guide, Adam({"lr": 0.05}), Trace_ELBO())
    before = [p.detach().clone() for p in net.parameters()]
    for _ in range(3):
        svi.step(x, y)
    assert all(not torch.equal(b, p.detach()) for b, p in zip(before, net.parameters()))
