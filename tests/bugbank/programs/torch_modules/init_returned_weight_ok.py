"""A hand-written linear layer wraps what `nn.init.kaiming_uniform_` returns in nn.Parameter; its fixed random projection is a registered buffer on purpose.

Source: https://www.codcompass.com/en/kb/pytorch-for-neural-networks-part-2-initializing-weights-and-biases-720132
Label: clean
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
        self.weight = nn.Parameter(nn.init.kaiming_uniform_(torch.empty(n_out, n_in), a=math.sqrt(5)))
        self.bias = nn.Parameter(torch.zeros(n_out))
        # a fixed random mixing of the inputs, not trained (a buffer: moves with .to())
        self.register_buffer("mix", nn.init.orthogonal_(torch.empty(n_in, n_in)))

    def forward(self, x):
        return F.linear(x @ self.mix, self.weight, self.bias)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Sequential(MyLinear(3, 6), nn.Tanh(), MyLinear(6, 1))
    before = net[0].weight.detach().clone()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(net(x), y).backward()
        opt.step()
    assert len(list(net.parameters())) == 4
    assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0
    assert not torch.equal(net[0].weight.detach(), before)
