"""Pyro autoregressive flow fitted to an unnormalised target by reverse KL, with the flow's draws taken by .sample(): the target term never reaches the flow.

Source: https://github.com/pytorch/pytorch/issues/16756
        https://github.com/lollcat/fab-torch/pull/49
Label: buggy
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
    z = flow_dist.sample(torch.Size([n]))  # BUG
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
    # the draws (and the log-scales cached with them) carry no graph: the loss is a constant
    try:
        fit(flow_dist, layer)
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("expected backward to fail")
    assert all(p.grad is None for p in layer.parameters())
