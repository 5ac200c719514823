"""A multi-crop loss averages the per-crop loss tensors for backward and uses .item() only to log them: the model trains.

Source: https://github.com/ronghuaiyang/arcface-pytorch/issues/56
Label: clean
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
logged = []
for c in crops:
    l = F.cross_entropy(model(c), labels)
    crop_losses.append(l)
    logged.append(l.item())
print_msg = " ".join(f"{v:.3f}" for v in logged)
loss = sum(crop_losses) / len(crop_losses)
loss.backward()
opt.step()
assert model[1].weight.grad is not None and model[1].weight.grad.abs().sum() > 0
