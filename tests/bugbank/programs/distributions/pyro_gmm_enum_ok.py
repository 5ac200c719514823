"""Pyro Gaussian mixture: the discrete assignment site is enumerated by TraceEnum_ELBO; the guide's continuous sites train component locations.

Source: https://github.com/scverse/scvi-tools/issues/1526
Label: clean
Family: sampling
Frameworks: torch, pyro
"""
import torch
import pyro
import pyro.distributions as dist
from pyro import poutine
from pyro.infer import SVI, TraceEnum_ELBO, config_enumerate
from pyro.optim import Adam

K = 2


@config_enumerate
def model(data):
    weights = pyro.sample("weights", dist.Dirichlet(torch.ones(K)))
    with pyro.plate("components", K):
        locs = pyro.sample("locs", dist.Normal(0.0, 10.0))
    with pyro.plate("data", len(data)):
        assignment = pyro.sample("assignment", dist.Categorical(weights))
        pyro.sample("obs", dist.Normal(locs[assignment], 1.0), obs=data)


def guide(data):
    w_conc = pyro.param("w_conc", torch.ones(K), constraint=dist.constraints.positive)
    loc_mean = pyro.param("loc_mean", torch.tensor([-1.0, 1.0]))
    pyro.sample("weights", dist.Dirichlet(w_conc))
    with pyro.plate("components", K):
        pyro.sample("locs", dist.Normal(loc_mean, 0.5))


if __name__ == "__main__":
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    data = torch.cat([torch.randn(10) - 3.0, torch.randn(10) + 3.0])
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=TraceEnum_ELBO(max_plate_nesting=1))
    svi.step(data)  # creates the params
    before = pyro.param("loc_mean").detach().clone()
    for _ in range(3):
        svi.step(data)
    after = pyro.param("loc_mean").detach()
    assert not torch.equal(before, after)
    # the enumerated site is marginalised, not sampled: the guide has no "assignment" site
    tr = poutine.trace(guide).get_trace(data)
    assert "assignment" not in tr.nodes
