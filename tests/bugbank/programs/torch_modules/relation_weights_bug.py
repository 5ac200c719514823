"""A relational layer keeps one weight matrix per relation as nn.Parameter objects in a plain list: none is registered, the optimizer gets only the bias.

Source: https://github.com/pytorch/pytorch/issues/632
        https://github.com/pytorch/pytorch/issues/10817
Label: buggy
Family: params
Frameworks: torch
"""
import torch
from torch import nn


class RelConv(nn.Module):
    def __init__(self, d, n_rel):
        super().__init__()
        self.rel_weights = [nn.Parameter(torch.randn(d, d) * 0.1) for _ in range(n_rel)]  # BUG
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, h, adj):
        # adj: (n_rel, N, N)
        out = sum(adj[r] @ h @ W for r, W in enumerate(self.rel_weights))
        return torch.tanh(out + self.bias)


torch.manual_seed(0)
layer = RelConv(4, 2)
opt = torch.optim.Adam(layer.parameters(), lr=1e-2)
h = torch.randn(5, 4)
adj = (torch.rand(2, 5, 5) > 0.5).float()
target = torch.randn(5, 4)
w0 = [w.detach().clone() for w in layer.rel_weights]
for _ in range(3):
    opt.zero_grad()
    ((layer(h, adj) - target) ** 2).mean().backward()
    opt.step()

assert [n for n, _ in layer.named_parameters()] == ["bias"]
assert all(torch.equal(a, w.detach()) for a, w in zip(w0, layer.rel_weights))
