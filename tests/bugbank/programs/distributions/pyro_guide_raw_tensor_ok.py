"""Bayesian linear regression in Pyro: the guide's means are pyro.param; its fixed scale is a plain tensor constant on purpose.

Source: https://leeroopedia.com/index.php/Principle:Pyro_ppl_Pyro_Learnable_Parameters
Label: clean
Family: sampling
Frameworks: torch, pyro
"""
import torch
import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam


def model(x, y=None):
    w = pyro.sample("w", dist.Normal(torch.zeros(x.shape[1]), 2.0).to_event(1))
    with pyro.plate("data", x.shape[0]):
        pyro.sample("y", dist.Normal(x @ w, 0.3), obs=y)


def guide(x, y=None):
    fixed_scale = torch.full((x.shape[1],), 0.05)
    w_loc = pyro.param("w_loc", torch.zeros(x.shape[1]))
    pyro.sample("w", dist.Normal(w_loc, fixed_scale).to_event(1))


if __name__ == "__main__":
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    x = torch.randn(30, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(30)
    svi = SVI(model, guide, Adam({"lr": 0.1}), loss=Trace_ELBO())
    for _ in range(3):
        svi.step(x, y)
    assert not torch.equal(pyro.param("w_loc").detach(), torch.zeros(3))
