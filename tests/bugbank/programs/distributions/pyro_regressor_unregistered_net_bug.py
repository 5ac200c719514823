"""Pyro SVI with a torch network inside the model but no pyro.module: SVI never updates the network.

Source: https://github.com/pyro-ppl/pyro/issues/995
Label: buggy
Family: sampling
Frameworks: torch, pyro
"""
import pyro
import pyro.distributions as dist
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam
from torch import nn


class MeanNet(nn.Module):
    def __init__(self, d_in=3, hidden=8):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.body(x).squeeze(-1)


mean_net = MeanNet()


def model(x, y=None):
    noise = pyro.sample("noise", dist.LogNormal(0.0, 1.0))
    mean = mean_net(x)  # BUG
    with pyro.plate("data", x.shape[0]):
        pyro.sample("obs", dist.Normal(mean, noise), obs=y)


def guide(x, y=None):
    loc = pyro.param("noise_loc", torch.tensor(0.0))
    scale = pyro.param("noise_scale", torch.tensor(0.5), constraint=dist.constraints.positive)
    pyro.sample("noise", dist.LogNormal(loc, scale))


if __name__ == "__main__":
    torch.manual_seed(0)
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    x = torch.randn(32, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(32)
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=Trace_ELBO())
    before = [p.detach().clone() for p in mean_net.parameters()]
    for _ in range(3):
        svi.step(x, y)
    # the guide's own params moved, the network's weights never did
    assert pyro.param("noise_loc").item() != 0.0
    assert all(torch.equal(b, p.detach()) for b, p in zip(before, mean_net.parameters()))
