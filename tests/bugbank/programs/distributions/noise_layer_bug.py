"""Stochastic layer that perturbs activations with torch.normal(mu, sigma): the mean/scale heads get zero gradient.

Source: https://github.com/pytorch/pytorch/issues/4620
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn


class NoisyLayer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mu = nn.Linear(d, d)
        self.log_sigma = nn.Linear(d, d)

    def forward(self, x):
        return torch.normal(self.mu(x), self.log_sigma(x).exp())  # BUG


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.noisy = NoisyLayer(4)
        self.head = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(torch.relu(self.noisy(x)))


if __name__ == "__main__":
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    before = net.noisy.mu.weight.detach().clone()
    for _ in range(2):
        loss = nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.count_nonzero(net.noisy.mu.weight.grad) == 0
    assert torch.count_nonzero(net.noisy.log_sigma.weight.grad) == 0
    assert torch.equal(before, net.noisy.mu.weight)
    assert net.head.weight.grad.abs().sum() > 0
