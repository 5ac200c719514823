"""A hand-written linear layer keeps the tensor that `nn.init.kaiming_uniform_` returns as its weight: a plain tensor, so the layer has no parameters of its own and the weight never trains.

Source: https://www.codcompass.com/en/kb/pytorch-for-neural-networks-part-2-initializing-weights-and-biases-720132
Label: buggy
Family: params
Frameworks: torch
"""
import math

import torch
from torch import nn
import torch.nn.functional as F


class MyLinear(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.init.kaiming_uniform_(torch.empty(n_out, n_in), a=math.sqrt(5))  # BUG
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


def build(n_in, hidden, n_out):
    return nn.Sequential(MyLinear(n_in, hidden), nn.Tanh(), MyLinear(hidden, n_out))


if __name__ == "__main__":
    torch.manual_seed(0)
    net = build(3, 6, 1)
    before = net[0].weight.clone()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(net(x), y).backward()
        opt.step()
    # only the two biases are parameters; the weights are constants
    assert len(list(net.parameters())) == 2
    assert net[0].weight.grad is None
    assert torch.equal(net[0].weight, before)
