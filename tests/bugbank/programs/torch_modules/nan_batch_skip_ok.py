"""A regression loop skips batches whose loss is not finite: it zeroes the gradients and continues before backward, and after backward it skips the step when the gradient norm is not finite; the good batches still train the model.

Source: https://kempnerinstitute.github.io/KempnerForge/resilience/nan-detection.html
Label: clean
Family: loop
Frameworks: torch
"""
import math

import torch
from torch import nn


def batches():
    torch.manual_seed(3)
    out = []
    for k in range(5):
        x = torch.randn(8, 4)
        y = x.sum(dim=1, keepdim=True)
        if k == 2:
            x[0, 0] = float("nan")  # a corrupted record
        out.append((x, y))
    return out


def fit(model, optimizer, data, max_norm=5.0):
    skipped = 0
    for x, y in data:
        loss = nn.functional.mse_loss(model(x), y)
        if not torch.isfinite(loss):
            optimizer.zero_grad(set_to_none=True)
            skipped += 1
            continue
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        if not math.isfinite(grad_norm.item()):
            skipped += 1
            continue
        optimizer.step()
    return skipped


model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
w0 = model.weight.detach().clone()
skipped = fit(model, optimizer, batches())
assert skipped == 1, skipped
assert torch.isfinite(model.weight).all()
assert not torch.equal(w0, model.weight)
assert model.weight.grad is not None and model.weight.grad.abs().sum() > 0
