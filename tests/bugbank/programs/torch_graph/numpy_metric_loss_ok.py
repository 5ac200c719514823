"""A soft-Dice loss is computed with torch ops; NumPy is used only for the reported IoU metric.

Source: https://whosebug.com/question/5700140/Lack-of-gradient-when-creating-tensor-from-numpy
Label: clean
Family: graph
Frameworks: torch
"""
import numpy as np
import torch
import torch.nn as nn


def dice_loss(logits, mask):
    probs = torch.sigmoid(logits)
    inter = (probs * mask).sum()
    return 1.0 - (2 * inter + 1.0) / (probs.sum() + mask.sum() + 1.0)


def iou_metric(logits, mask):
    pred = (torch.sigmoid(logits) > 0.5).detach().cpu().numpy()
    m = mask.cpu().numpy() > 0.5
    return float(np.logical_and(pred, m).sum() / max(np.logical_or(pred, m).sum(), 1))


torch.manual_seed(0)
seg = nn.Conv2d(1, 1, kernel_size=3, padding=1)
opt = torch.optim.SGD(seg.parameters(), lr=0.5)
img = torch.randn(2, 1, 6, 6)
mask = (torch.rand(2, 1, 6, 6) > 0.5).float()
start = seg.weight.clone()
scores = []
for _ in range(2):
    opt.zero_grad()
    logits = seg(img)
    loss = dice_loss(logits, mask)
    loss.backward()
    opt.step()
    scores.append(iou_metric(logits, mask))

assert seg.weight.grad is not None and seg.weight.grad.abs().sum() > 0
assert not torch.equal(start, seg.weight)
