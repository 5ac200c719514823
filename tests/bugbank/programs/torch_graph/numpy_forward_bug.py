"""A small regression net applies a numpy activation inside forward (detach, numpy, back to a tensor), so the first layer is cut off from the loss and never trains.

Source: https://github.com/delira-dev/delira/issues/40
Label: buggy
Family: graph
Frameworks: torch
"""
import numpy as np
import torch
from torch import nn


def soft_clip(arr):
    return np.tanh(arr) * 0.5 + arr * 0.5


class ClipNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 6)
        self.out = nn.Linear(6, 1)

    def forward(self, x):
        h = self.inp(x)
        h = torch.from_numpy(soft_clip(h.detach().cpu().numpy()))  # BUG
        return self.out(h)


def fit(net, x, y, steps=2):
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    net = ClipNet()
    first = net.inp.weight.detach().clone()
    fit(net, torch.randn(8, 4), torch.randn(8, 1))
    assert net.inp.weight.grad is None
    assert torch.equal(first, net.inp.weight)
    assert net.out.weight.grad is not None
