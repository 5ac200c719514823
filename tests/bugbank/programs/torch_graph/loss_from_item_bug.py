"""A weighted multi-task loss is rebuilt from `.item()` values with requires_grad=True, so nothing trains.

Source: https://github.com/davidmascharka/tbd-nets/issues/8
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(6, 12)
        self.cls = nn.Linear(12, 3)
        self.reg = nn.Linear(12, 1)

    def forward(self, x):
        h = F.relu(self.trunk(x))
        return self.cls(h), self.reg(h)


def combined_loss(logits, value, labels, target, alpha=0.5):
    ce = F.cross_entropy(logits, labels).item()  # BUG
    mse = F.mse_loss(value, target).item()  # BUG
    return torch.tensor(ce + alpha * mse, requires_grad=True)  # BUG


torch.manual_seed(0)
net = MultiTask()
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
x = torch.randn(8, 6)
labels, target = torch.randint(0, 3, (8,)), torch.randn(8, 1)
start = net.trunk.weight.clone()
for _ in range(2):
    logits, value = net(x)
    loss = combined_loss(logits, value, labels, target)
    opt.zero_grad()
    loss.backward()
    opt.step()

assert net.trunk.weight.grad is None and net.cls.weight.grad is None
assert torch.equal(start, net.trunk.weight)
