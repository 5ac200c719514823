"""Pyro SVI with a normalizing-flow guide: the spline transform is used in the guide but never registered with pyro.module, so SVI never trains it.

Source: https://github.com/pyro-ppl/pyro/pull/2282
        https://github.com/pyro-ppl/pyro/issues/995
Label: buggy
Family: sampling
Frameworks: torch, pyro
"""
import pyro
import pyro.distributions as dist
import pyro.distributions.transforms as T
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import ClippedAdam


def model(data):
    z = pyro.sample("z", dist.Normal(torch.zeros(2), torch.ones(2)).to_event(1))
    with pyro.plate("obs_plate", data.shape[0]):
        pyro.sample("obs", dist.Normal(z, 0.5).to_event(1), obs=data)


class FlowGuide:
    def __init__(self):
        self.spline = T.spline(2, count_bins=4)

    def __call__(self, data):
        shift = pyro.param("base_shift", torch.zeros(2))
        base = dist.Normal(shift, torch.ones(2))
        q = dist.TransformedDistribution(base, [self.spline])  # BUG
        pyro.sample("z", q.to_event(1))


if __name__ == "__main__":
    torch.manual_seed(0)
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    data = torch.randn(20, 2) + torch.tensor([1.0, -1.0])
    guide = FlowGuide()
    svi = SVI(model, guide, ClippedAdam({"lr": 0.05}), Trace_ELBO())
    before = [p.detach().clone() for p in guide.spline.parameters()]
    for _ in range(3):
        svi.step(data)
    assert pyro.param("base_shift").abs().sum() > 0
    assert all(torch.equal(b, p.detach()) for b, p in zip(before, guide.spline.parameters()))
