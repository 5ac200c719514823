"""An ArcFace-style step runs backbone and margin head under torch.no_grad(); setting loss.requires_grad = True hides the error, nothing trains.

Source: https://github.com/ronghuaiyang/arcface-pytorch/issues/56
Label: buggy
Family: graph
Frameworks: torch
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class ArcMargin(nn.Module):
    def __init__(self, dim, classes, s=8.0, m=0.3):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, dim) * 0.1)
        self.s, self.m = s, m

    def forward(self, feats, labels):
        cosine = F.linear(F.normalize(feats), F.normalize(self.weight)).clamp(-1 + 1e-6, 1 - 1e-6)
        theta = torch.acos(cosine)
        one_hot = F.one_hot(labels, cosine.size(1)).float()
        return self.s * torch.cos(theta + self.m * one_hot)


torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(20, 16), nn.PReLU(), nn.Linear(16, 8))
metric_fc = ArcMargin(8, 5)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD([{"params": backbone.parameters()}, {"params": metric_fc.parameters()}],
                            lr=0.1, momentum=0.9)

data = torch.randn(12, 20)
label = torch.randint(0, 5, (12,))
start = backbone[0].weight.detach().clone()
head_start = metric_fc.weight.detach().clone()
for epoch in range(2):
    with torch.no_grad():  # BUG
        feature = backbone(data)
        output = metric_fc(feature, label)
        loss = criterion(output, label)
    loss.requires_grad = True  # BUG
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    acc = (output.argmax(dim=1) == label).float().mean().item()

assert backbone[0].weight.grad is None and metric_fc.weight.grad is None
assert torch.equal(start, backbone[0].weight)
assert torch.equal(head_start, metric_fc.weight)
assert math.isfinite(loss.item())
