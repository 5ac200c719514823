"""Pyro SVI with a normalizing-flow guide whose spline transform is registered with pyro.module on each call; a sample for plotting is drawn under no_grad.

Source: https://github.com/pyro-ppl/pyro/pull/2282
Label: clean
Family: sampling
Frameworks: torch, pyro
"""
import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as T
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import ClippedAdam

spline = T.spline(2, count_bins=4)


def model(data):
    z = pyro.sample("z", dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1))
    with pyro.plate("obs_plate", data.shape[0]):
        pyro.sample("obs", dist.Normal(z, 0.5).to_event(1), obs=data)


def guide(data):
    flow = pyro.module("spline", spline)
    shift = pyro.param("base_shift", torch.zeros(2))
    q = dist.TransformedDistribution(dist.Normal(shift, torch.ones(2)), [flow])
    pyro.sample("z", q.to_event(1))


if __name__ == "__main__":
    torch.manual_seed(0)
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    data = torch.randn(20, 2) + torch.tensor([1.0, -1.0])
    svi = SVI(model, guide, ClippedAdam({"lr": 0.05}), Trace_ELBO())
    before = [p.detach().clone() for p in spline.parameters()]
    for _ in range(3):
        svi.step(data)
    with torch.no_grad():
        draws = dist.TransformedDistribution(dist.Normal(torch.zeros(2), torch.ones(2)), [spline]).sample((5,))
    assert draws.shape == (5, 2)
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, spline.parameters()))
