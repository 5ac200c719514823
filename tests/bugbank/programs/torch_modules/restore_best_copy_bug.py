"""Early stopping with a rollback: when validation gets worse, the script replaces the model by a deep copy of the best one and keeps training with the optimizer built for the first model; the optimizer still updates the discarded object, so the restored model never trains again.

Source: https://github.com/kitzeslab/opensoundscape/issues/351
Label: buggy
Family: loop
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
x_tr, y_tr = torch.randn(32, 5), torch.randn(32, 1)
x_va, y_va = torch.randn(8, 5), torch.randn(8, 1)

model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)  # BUG
best_val, best_model = float("inf"), copy.deepcopy(model)
restored = False

for epoch in range(6):
    model.train()
    optimizer.zero_grad()
    F.mse_loss(model(x_tr), y_tr).backward()
    optimizer.step()
    with torch.no_grad():
        val = F.mse_loss(model(x_va), y_va).item()
    if val < best_val:
        best_val, best_model = val, copy.deepcopy(model)
    elif not restored:
        model = copy.deepcopy(best_model)  # BUG
        restored = True
        frozen_at = [p.detach().clone() for p in model.parameters()]

assert restored
assert all(torch.equal(a, p) for a, p in zip(frozen_at, model.parameters()))
