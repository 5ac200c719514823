"""Per-expert balance losses are collected in a list and merged with torch.stack, which keeps the graph.

Source: https://github.com/laekov/fastmoe/issues/49
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn


class TinyMoE(nn.Module):
    def __init__(self, n_experts=3):
        super().__init__()
        self.gate = nn.Linear(4, n_experts)
        self.experts = nn.ModuleList(nn.Linear(4, 4) for _ in range(n_experts))

    def forward(self, x):
        probs = torch.softmax(self.gate(x), dim=-1)
        out = sum(probs[:, i:i + 1] * e(x) for i, e in enumerate(self.experts))
        balance = [(probs[:, i].mean() - 1.0 / len(self.experts)) ** 2 for i in range(len(self.experts))]
        return out, balance


torch.manual_seed(0)
moe = TinyMoE()
opt = torch.optim.SGD(moe.parameters(), lr=0.1)
x = torch.randn(5, 4)
out, balance = moe(x)
balance_loss = torch.stack(balance).sum()
loss = out.pow(2).mean() + 10.0 * balance_loss
(balance_grad,) = torch.autograd.grad(balance_loss, moe.gate.weight, retain_graph=True)
opt.zero_grad()
loss.backward()
opt.step()

assert moe.gate.weight.grad is not None and moe.gate.weight.grad.abs().sum() > 0
assert moe.experts[0].weight.grad is not None
assert balance_grad.abs().sum() > 0
