"""Pyro SVI with a mean-field Normal guide site: the reparameterised sample trains loc and scale.

Source: https://github.com/pyro-ppl/pyro/pull/2644
Label: clean
Family: sampling
Frameworks: torch, pyro
"""
import torch
import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam


def model(data):
    mu = pyro.sample("mu", dist.Normal(0.0, 5.0))
    with pyro.plate("obs", len(data)):
        pyro.sample("x", dist.Normal(mu, 1.0), obs=data)


def guide(data):
    loc = pyro.param("q_loc", torch.tensor(0.0))
    scale = pyro.param("q_scale", torch.tensor(1.0), constraint=dist.constraints.positive)
    pyro.sample("mu", dist.Normal(loc, scale))


if __name__ == "__main__":
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    data = torch.randn(20) + 3.0
    svi = SVI(model, guide, Adam({"lr": 0.1}), loss=Trace_ELBO())
    for _ in range(3):
        svi.step(data)
    assert pyro.param("q_loc").item() != 0.0
