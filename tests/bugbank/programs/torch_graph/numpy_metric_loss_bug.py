"""A soft-Dice loss is computed in NumPy and re-wrapped with torch.from_numpy, so the segmenter never trains.

Source: https://whosebug.com/question/5700140/Lack-of-gradient-when-creating-tensor-from-numpy
Label: buggy
Family: graph
Frameworks: torch
"""
import numpy as np
import torch
import torch.nn as nn


def dice_loss(logits, mask):
    probs = torch.sigmoid(logits).detach().cpu().numpy()  # BUG
    m = mask.cpu().numpy()
    inter = (probs * m).sum()
    dice = (2 * inter + 1.0) / (probs.sum() + m.sum() + 1.0)
    loss = torch.from_numpy(np.array(1.0 - dice, dtype=np.float32))  # BUG
    return loss.requires_grad_()  # BUG


torch.manual_seed(0)
seg = nn.Conv2d(1, 1, kernel_size=3, padding=1)
opt = torch.optim.SGD(seg.parameters(), lr=0.5)
img = torch.randn(2, 1, 6, 6)
mask = (torch.rand(2, 1, 6, 6) > 0.5).float()
start = seg.weight.clone()
for _ in range(2):
    opt.zero_grad()
    loss = dice_loss(seg(img), mask)
    loss.backward()
    opt.step()

assert seg.weight.grad is None
assert torch.equal(start, seg.weight)
