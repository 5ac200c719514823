"""Per-expert balance losses are collected in a list and merged with torch.tensor(list), which drops the graph.

Source: https://github.com/laekov/fastmoe/issues/49
Label: buggy
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


def grad_of_gate(with_balance):
    torch.manual_seed(0)
    moe = TinyMoE()
    x = torch.randn(5, 4)
    out, balance = moe(x)
    loss = out.pow(2).mean()
    if with_balance:
        balance_loss = torch.tensor(balance).sum()  # BUG
        loss = loss + 10.0 * balance_loss
    loss.backward()
    return moe.gate.weight.grad.clone()


# the balance term changes nothing: the gate's gradient is bit-for-bit the task loss's alone
assert torch.equal(grad_of_gate(True), grad_of_gate(False))
