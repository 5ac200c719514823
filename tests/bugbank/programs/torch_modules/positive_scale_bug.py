"""To keep a learnable scale positive, forward re-wraps it as nn.Parameter(self.scale.clamp(...)): a new leaf each call, so the parameter the optimizer holds never gets a gradient.

Source: https://thecodeforge.io/ml-ai/pytorch-neural-network/
Label: buggy
Family: params
Frameworks: torch
"""
import torch
from torch import nn


class ScaledHead(nn.Module):
    def __init__(self, d, k):
        super().__init__()
        self.fc = nn.Linear(d, k)
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        self.scale = nn.Parameter(self.scale.clamp(min=1e-3))  # BUG
        return self.fc(x) * self.scale


torch.manual_seed(0)
head = ScaledHead(4, 3)
opt = torch.optim.SGD(head.parameters(), lr=0.5)
original = head.scale
x = torch.randn(8, 4)
y = torch.randint(0, 3, (8,))
for _ in range(3):
    opt.zero_grad()
    nn.functional.cross_entropy(head(x), y).backward()
    opt.step()

assert original.grad is None
assert original.item() == 1.0
assert head.scale is not original
