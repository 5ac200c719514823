"""Portfolio net whose Dirichlet allocation layer draws weights with .rsample(): the Sharpe loss trains the scorer.

Source: https://github.com/jankrepl/deepdow/pull/106
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Dirichlet


class AllocationLayer(nn.Module):
    """Turns per-asset scores into random portfolio weights."""

    def __init__(self, eps=1e-3):
        super().__init__()
        self.eps = eps

    def _posterior(self, scores):
        concentration = nn.functional.softplus(scores) + self.eps
        return Dirichlet(concentration)

    def forward(self, scores):
        dist = self._posterior(scores)
        return dist.rsample()


class PortfolioNet(nn.Module):
    def __init__(self, n_feats, n_assets):
        super().__init__()
        self.scorer = nn.Sequential(nn.Linear(n_feats, 16), nn.Tanh(), nn.Linear(16, n_assets))
        self.alloc = AllocationLayer()

    def forward(self, x):
        return self.alloc(self.scorer(x))


def negative_sharpe(weights, returns):
    port = (weights * returns).sum(-1)
    return -port.mean() / (port.std() + 1e-6)


def fit_one_epoch(net, opt, batches):
    for x, rets in batches:
        opt.zero_grad()
        loss = negative_sharpe(net(x), rets)
        if loss.requires_grad:
            loss.backward()
        opt.step()
    return loss


if __name__ == "__main__":
    torch.manual_seed(0)
    net = PortfolioNet(n_feats=6, n_assets=4)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    first = net.scorer[0].weight.detach().clone()
    batches = [(torch.randn(8, 6), torch.randn(8, 4) * 0.02) for _ in range(3)]
    loss = fit_one_epoch(net, opt, batches)
    assert loss.requires_grad
    assert net.scorer[0].weight.grad is not None and net.scorer[0].weight.grad.abs().sum() > 0
    assert not torch.equal(first, net.scorer[0].weight)
