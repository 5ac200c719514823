"""Learned blend between two predictors drawn from Beta(a, b).sample(): Beta has rsample, but sample() leaves the concentrations untrained.

Source: https://github.com/jankrepl/deepdow/pull/106
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Beta


class StochasticBlend(nn.Module):
    def __init__(self, d=4):
        super().__init__()
        self.a = nn.Linear(d, 1)
        self.b = nn.Linear(d, 1)
        self.log_conc = nn.Parameter(torch.zeros(2))

    def mix_weight(self, batch):
        c1, c0 = F.softplus(self.log_conc) + 0.1
        return Beta(c1, c0).sample((batch, 1))  # BUG

    def forward(self, x):
        lam = self.mix_weight(x.shape[0])
        return lam * self.a(x) + (1 - lam) * self.b(x)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = StochasticBlend()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(12, 4), torch.randn(12, 1)
    loss = F.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    assert model.log_conc.grad is None
    assert model.a.weight.grad is not None
    opt.step()
