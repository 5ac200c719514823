"""Portfolio allocator: the network's Normal over asset scores is handed to a helper that
draws with .sample(), so the expected-return loss gives the allocator no gradient.

Source: https://github.com/jankrepl/deepdow/pull/106
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Normal


def monte_carlo_allocation(dist, n_draws=16):
    draws = dist.sample((n_draws,))  # BUG
    return torch.softmax(draws, dim=-1).mean(dim=0)


class Allocator(nn.Module):
    def __init__(self, n_features=5, n_assets=3):
        super().__init__()
        self.score = nn.Linear(n_features, n_assets)
        self.log_sigma = nn.Parameter(torch.zeros(n_assets))

    def forward(self, features):
        scores = Normal(self.score(features), self.log_sigma.exp())
        return monte_carlo_allocation(scores)


def fit(model, features, asset_returns, steps=2):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        weights = model(features)
        loss = -(weights * asset_returns).sum(dim=-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = Allocator()
    try:
        fit(model, torch.randn(4, 5), torch.randn(4, 3))
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("expected backward to fail: the allocation has no grad_fn")
