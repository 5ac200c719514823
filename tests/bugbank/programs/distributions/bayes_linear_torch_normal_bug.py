"""Bayes-by-backprop linear layer drawing weights with torch.normal(mu, softplus(rho)): the data term gives mu and rho exactly zero gradient.

Source: https://github.com/pytorch/pytorch/issues/4620
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BayesLinear(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.w_mu = nn.Parameter(torch.randn(n_out, n_in) * 0.1)
        self.w_rho = nn.Parameter(torch.full((n_out, n_in), -3.0))

    def forward(self, x):
        w = torch.normal(self.w_mu, F.softplus(self.w_rho))  # BUG
        return F.linear(x, w)


if __name__ == "__main__":
    torch.manual_seed(0)
    layer = BayesLinear(3, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x, y = torch.randn(20, 3), torch.randn(20, 1)
    nll = F.mse_loss(layer(x), y)
    opt.zero_grad()
    nll.backward()
    assert torch.count_nonzero(layer.w_mu.grad) == 0
    assert torch.count_nonzero(layer.w_rho.grad) == 0
    opt.step()
