"""A box-regression IoU loss rasterises predicted corners into masks with comparisons against a pixel grid: the masks are constant, so backward raises at once.

Source: https://github.com/pytorch/pytorch/issues/2774
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.nn.modules.loss import _Loss


class IoULoss(_Loss):
    def __init__(self, size=16):
        super().__init__()
        ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        self.register_buffer("xs", xs.float())
        self.register_buffer("ys", ys.float())

    def box_mask(self, box):
        x0, y0, x1, y1 = box.unbind(-1)
        inside = (self.xs >= x0[:, None, None]) & (self.xs <= x1[:, None, None])  # BUG
        inside = inside & (self.ys >= y0[:, None, None]) & (self.ys <= y1[:, None, None])
        return inside.float()

    def forward(self, pred_boxes, true_boxes):
        pm, tm = self.box_mask(pred_boxes), self.box_mask(true_boxes)
        inter = (pm * tm).sum(dim=(1, 2))
        union = (pm + tm - pm * tm).sum(dim=(1, 2)).clamp(min=1.0)
        return (1.0 - inter / union).mean()


class BoxHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 4)

    def forward(self, feats):
        lo = torch.sigmoid(self.fc(feats)) * 8
        return torch.cat([lo[:, :2], lo[:, :2] + 4 + lo[:, 2:]], dim=-1)


torch.manual_seed(0)
head = BoxHead()
criterion = IoULoss()
optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
feats = torch.randn(5, 10)
targets = torch.tensor([[2.0, 2.0, 9.0, 9.0]]).repeat(5, 1)
loss = criterion(head(feats), targets)
try:
    loss.backward()
except RuntimeError as err:
    assert "does not require grad" in str(err)
else:
    raise AssertionError("backward should have failed")
assert head.fc.weight.grad is None
