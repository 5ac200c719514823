"""A weighted multi-task loss keeps the tensors; `.item()` is used only for the running log.

Source: https://github.com/davidmascharka/tbd-nets/issues/8
Label: clean
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
    ce = F.cross_entropy(logits, labels)
    mse = F.mse_loss(value, target)
    return ce + alpha * mse, {"ce": ce.item(), "mse": mse.item()}


torch.manual_seed(0)
net = MultiTask()
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
x = torch.randn(8, 6)
labels, target = torch.randint(0, 3, (8,)), torch.randn(8, 1)
start = net.trunk.weight.clone()
history = []
for _ in range(2):
    logits, value = net(x)
    loss, parts = combined_loss(logits, value, labels, target)
    opt.zero_grad()
    loss.backward()
    opt.step()
    history.append(loss.item())

assert net.trunk.weight.grad is not None and net.trunk.weight.grad.abs().sum() > 0
assert not torch.equal(start, net.trunk.weight)
