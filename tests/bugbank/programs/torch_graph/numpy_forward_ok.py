"""A small regression net builds a padding mask with numpy inside forward (a non-differentiable decision) and keeps the activation in torch, so both layers train.

Source: https://github.com/delira-dev/delira/issues/40
Label: clean
Family: graph
Frameworks: torch
"""
import numpy as np
import torch
from torch import nn


def keep_rows(arr):
    return np.abs(arr).sum(axis=1) > 0


class ClipNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 6)
        self.out = nn.Linear(6, 1)

    def forward(self, x):
        mask = torch.from_numpy(keep_rows(x.detach().cpu().numpy())).float().unsqueeze(1)
        h = torch.tanh(self.inp(x)) * 0.5 + self.inp(x) * 0.5
        return self.out(h) * mask


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
    assert net.inp.weight.grad is not None and net.inp.weight.grad.abs().sum() > 0
    assert not torch.equal(first, net.inp.weight)
