"""A weightless multi-task loss module rescales each term by a Python float of its own value; every term keeps its graph.

Source: https://github.com/choderalab/modelforge/pull/281
        https://github.com/JeffWang987/OpenOccupancy/issues/4
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class NormalizedMultiTaskLoss(nn.Module):
    def __init__(self, eps=1e-8):
        super().__init__()
        self.eps = eps
        self.history = []

    def forward(self, energy_pred, energy_true, force_pred, force_true):
        e_loss = F.mse_loss(energy_pred, energy_true)
        f_loss = F.mse_loss(force_pred, force_true)
        e_scale = float(e_loss.detach()) + self.eps
        f_scale = f_loss.item() + self.eps
        self.history.append((e_scale, f_scale))
        return e_loss / e_scale + f_loss / f_scale


class TwoHeadNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(6, 16), nn.SiLU())
        self.energy = nn.Linear(16, 1)
        self.force = nn.Linear(16, 3)

    def forward(self, x):
        h = self.trunk(x)
        return self.energy(h), self.force(h)


torch.manual_seed(0)
net = TwoHeadNet()
criterion = NormalizedMultiTaskLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
x = torch.randn(10, 6)
e_true, f_true = torch.randn(10, 1), torch.randn(10, 3)
start = net.trunk[0].weight.detach().clone()
for step in range(2):
    e_pred, f_pred = net(x)
    loss = criterion(e_pred, e_true, f_pred, f_true)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

assert net.trunk[0].weight.grad is not None and net.trunk[0].weight.grad.abs().sum() > 0
assert net.energy.weight.grad.abs().sum() > 0 and net.force.weight.grad.abs().sum() > 0
assert not torch.equal(start, net.trunk[0].weight)
