"""A SphereFace-style head renormalizes its class centres in place under no_grad, then uses the parameter itself in the logits: it trains.

Source: https://github.com/ydwen/opensphere/issues/7
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class CosFaceHead(nn.Module):
    def __init__(self, feat_dim, num_class, s=10.0, m=0.2):
        super().__init__()
        self.w = nn.Parameter(torch.empty(feat_dim, num_class))
        nn.init.xavier_normal_(self.w)
        self.s, self.m = s, m

    def forward(self, x, y):
        with torch.no_grad():
            self.w.data = F.normalize(self.w.data, dim=0)
        cos_theta = F.normalize(x, dim=1).mm(self.w)
        margin = torch.zeros_like(cos_theta).scatter_(1, y.view(-1, 1), self.m)
        return F.cross_entropy(self.s * (cos_theta - margin), y)


torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 6))
head = CosFaceHead(6, 4)
optimizer = torch.optim.SGD(list(backbone.parameters()) + list(head.parameters()), lr=0.1)
x = torch.randn(12, 10)
y = torch.randint(0, 4, (12,))
for step in range(2):
    loss = head(backbone(x), y)
    optimizer.zero_grad()
    loss.backward()
    before = head.w.detach().clone()
    optimizer.step()

assert head.w.grad is not None and head.w.grad.abs().sum() > 0
assert not torch.equal(before, head.w)
assert backbone[0].weight.grad.abs().sum() > 0
