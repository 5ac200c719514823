"""Multi-scale predictions are moved to the loss device with map(lambda t: t.detach()...), cutting every head.

Source: https://github.com/pytorch/pytorch/issues/61410
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(8, 8)
        self.heads = nn.ModuleList([nn.Linear(8, 2) for _ in range(3)])

    def forward(self, x):
        h = torch.relu(self.stem(x))
        return [head(h) for head in self.heads]


torch.manual_seed(0)
net = MultiScale()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
x, y = torch.randn(6, 8), torch.randn(6, 2)
outs = net(x)
outs = list(map(lambda t: t.detach().float(), outs))  # BUG
loss = sum(F.mse_loss(o, y) for o in outs)
opt.zero_grad()
try:
    loss.backward()
    raised = None
except RuntimeError as err:
    raised = err

assert raised is not None and "does not require grad" in str(raised)
assert net.stem.weight.grad is None
