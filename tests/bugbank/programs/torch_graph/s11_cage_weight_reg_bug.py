"""A deformation net returns its per-vertex weights through an output dict after `.detach()`; the loss class regularises them, so the weight head never trains.

Source: https://github.com/yifita/deep_cage/issues/16
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class CageDeformer(nn.Module):
    def __init__(self, n_pts=6, hidden=16):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(3, hidden), nn.ReLU())
        self.offset_head = nn.Linear(hidden, 3)
        self.weight_head = nn.Linear(hidden, 1)

    def forward(self, points):
        feats = self.encoder(points)
        offsets = self.offset_head(feats)
        weights = torch.softmax(self.weight_head(feats).squeeze(-1), dim=-1)
        weights = weights.detach()  # BUG
        deformed = points + offsets * weights.unsqueeze(-1)
        return {"deformed": deformed, "weight": weights}


class DeformLoss:
    def __init__(self, reg_scale=1.0):
        self.reg_scale = reg_scale

    def mvc_reg(self, weights):
        return (weights ** 2).sum(dim=-1).mean()

    def __call__(self, outputs, target):
        terms = {}
        terms["fit"] = ((outputs["deformed"] - target) ** 2).mean()
        terms["wreg"] = self.mvc_reg(outputs["weight"]) * self.reg_scale
        return sum(terms.values()), terms


def run_epoch(net, criterion, optim, batches):
    for points, target in batches:
        optim.zero_grad()
        total, _ = criterion(net(points), target)
        total.backward()
        optim.step()


torch.manual_seed(0)
net = CageDeformer()
criterion = DeformLoss(reg_scale=10.0)
optim = torch.optim.Adam(net.parameters(), lr=1e-2)
batches = [(torch.randn(4, 6, 3), torch.randn(4, 6, 3)) for _ in range(2)]
before = net.weight_head.weight.detach().clone()
run_epoch(net, criterion, optim, batches)

assert net.weight_head.weight.grad is None
assert torch.equal(before, net.weight_head.weight)
assert net.offset_head.weight.grad is not None
