"""Pyro autoregressive flow fitted to an unnormalised target by reverse KL, with the flow's draws taken by .rsample(): the flow learns.

Source: https://github.com/pytorch/pytorch/issues/16756
        https://github.com/lollcat/fab-torch/pull/49
Label: clean
Family: sampling
Frameworks: torch, pyro
"""
import torch
import pyro.distributions as dist
import pyro.distributions.transforms as T
from pyro.nn import AutoRegressiveNN


def banana_log_density(z):
    x, y = z[..., 0], z[..., 1]
    return -0.5 * x ** 2 - 0.5 * ((y - 0.5 * x ** 2) / 0.5) ** 2


def build_flow(dim=2):
    base = dist.Normal(torch.zeros(dim), torch.ones(dim)).to_event(1)
    layer = T.AffineAutoregressive(AutoRegressiveNN(dim, [16]))
    return dist.TransformedDistribution(base, [layer]), layer


def reverse_kl(flow_dist, n=64):
    z = flow_dist.rsample(torch.Size([n]))
    return (flow_dist.log_prob(z) - banana_log_density(z)).mean()


def fit(flow_dist, layer, steps=3):
    opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = reverse_kl(flow_dist)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss


if __name__ == "__main__":
    torch.manual_seed(0)
    flow_dist, layer = build_flow()
    before = [p.detach().clone() for p in layer.parameters()]
    fit(flow_dist, layer)
    assert all(p.grad is not None for p in layer.parameters())
    assert any(not torch.equal(p.detach(), b) for p, b in zip(layer.parameters(), before))
