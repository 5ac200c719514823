"""A mixture of experts keeps the experts in a plain list and combines torch.stack of their outputs: only the gate is trained.

Source: https://www.engineermaxxing.com/micro/lessons/pytorch-internals.html
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MoE(nn.Module):
    def __init__(self, d, n_experts=3):
        super().__init__()
        self.experts = [nn.Linear(d, d) for _ in range(n_experts)]  # BUG
        self.gate = nn.Linear(d, n_experts)

    def forward(self, x):
        outs = torch.stack([e(x) for e in self.experts], dim=1)  # (B, E, d)
        w = F.softmax(self.gate(x), dim=-1).unsqueeze(-1)
        return (w * outs).sum(dim=1)


torch.manual_seed(0)
moe = MoE(6)
opt = torch.optim.Adam(moe.parameters(), lr=1e-2)
x = torch.randn(10, 6)
target = torch.randn(10, 6)
expert_w = [e.weight.detach().clone() for e in moe.experts]
gate_w = moe.gate.weight.detach().clone()
for _ in range(3):
    opt.zero_grad()
    F.mse_loss(moe(x), target).backward()
    opt.step()

assert all(torch.equal(a, e.weight.detach()) for a, e in zip(expert_w, moe.experts))
assert not torch.equal(gate_w, moe.gate.weight.detach())
