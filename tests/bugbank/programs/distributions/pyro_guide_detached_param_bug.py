"""Pyro guide that detaches its pyro.param before building the site: SVI steps leave the parameter untouched.

Source: https://forum.pyro.ai/t/try-to-understand-param-with-constraints/4761
Label: buggy
Family: sampling
Frameworks: torch, pyro
"""
import torch
import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam


def model(x, y):
    w = pyro.sample("w", dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1))
    with pyro.plate("data", len(x)):
        pyro.sample("y", dist.Normal(x @ w, 0.5), obs=y)


def guide(x, y):
    w_loc = pyro.param("w_loc", torch.zeros(2)).detach()  # BUG
    w_scale = pyro.param("w_scale", 0.5 * torch.ones(2), constraint=dist.constraints.positive)
    pyro.sample("w", dist.Normal(w_loc, w_scale).to_event(1))


if __name__ == "__main__":
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    x = torch.randn(30, 2)
    y = x @ torch.tensor([1.5, -2.0]) + 0.1 * torch.randn(30)
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=Trace_ELBO())
    for _ in range(3):
        svi.step(x, y)
    assert torch.equal(pyro.param("w_loc").detach(), torch.zeros(2))
    assert not torch.allclose(pyro.param("w_scale").detach(), 0.5 * torch.ones(2))
