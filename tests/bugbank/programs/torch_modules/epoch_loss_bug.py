"""A multi-crop loss is computed per crop, collected with .item() for the log, and the loss to optimise is rebuilt from those floats: backward() raises at once because the rebuilt tensor has no graph.

Source: https://github.com/ronghuaiyang/arcface-pytorch/issues/56
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
crops = [torch.randn(3, 4, 4) for _ in range(2)]
labels = torch.tensor([0, 2, 1])

opt.zero_grad()
crop_losses = []
for c in crops:
    crop_losses.append(F.cross_entropy(model(c), labels).item())  # BUG
print_msg = " ".join(f"{v:.3f}" for v in crop_losses)
loss = torch.tensor(sum(crop_losses) / len(crop_losses))  # BUG
try:
    loss.backward()
except RuntimeError as err:
    assert "does not require grad" in str(err), err
else:
    raise AssertionError("backward() of a rebuilt float did not raise")
assert model[1].weight.grad is None
