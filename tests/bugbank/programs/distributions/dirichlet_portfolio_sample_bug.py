"""Portfolio allocator that draws weights with Dirichlet(alpha).sample() and maximises their return: alpha never learns.

Source: https://github.com/jankrepl/deepdow/pull/106
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Dirichlet


class Allocator(nn.Module):
    def __init__(self, n_features=5, n_assets=4):
        super().__init__()
        self.net = nn.Linear(n_features, n_assets)

    def forward(self, feats):
        alpha = nn.functional.softplus(self.net(feats)) + 1e-3
        return Dirichlet(alpha)


def sharpe_like(weights, returns):
    port = (weights * returns).sum(-1)
    return port.mean() / (port.std() + 1e-6)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = Allocator()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    feats, returns = torch.randn(16, 5), torch.randn(16, 4) * 0.02
    weights = model(feats).sample()  # BUG
    loss = -sharpe_like(weights, returns)
    opt.zero_grad()
    try:
        loss.backward()
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("a loss built only from Dirichlet.sample() has no graph; backward should raise")
