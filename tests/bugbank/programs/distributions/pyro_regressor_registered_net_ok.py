"""Pyro SVI with a torch network in the model registered by pyro.module each call: the network trains.

Source: https://github.com/pyro-ppl/pyro/issues/995
Label: clean
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
    net = pyro.module("mean_net", mean_net)
    noise = pyro.sample("noise", dist.LogNormal(0.0, 1.0))
    mean = net(x)
    with pyro.plate("data", x.shape[0]):
        pyro.sample("obs", dist.Normal(mean, noise), obs=y)


def guide(x, y=None):
    loc = pyro.param("noise_loc", torch.tensor(0.0))
    scale = pyro.param("noise_scale", torch.tensor(0.5), constraint=dist.constraints.positive)
    pyro.sample("noise", dist.LogNormal(loc, scale))


@torch.no_grad()
def predict(x):
    # plain forward for evaluation: no pyro.module needed outside SVI
    return mean_net(x)


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
    assert predict(x).shape == (32,)
    assert any(not torch.equal(b, p.detach()) for b, p in zip(before, mean_net.parameters()))
