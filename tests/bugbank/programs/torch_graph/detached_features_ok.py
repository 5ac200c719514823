"""A two-stage regressor L2-normalises the encoder output by a detached norm: the features still train.

Source: https://github.com/pytorch/pytorch/issues/91529
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class TwoStage(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(6, 8), nn.Tanh())
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        h = self.encoder(x)
        # only the scale is treated as a constant; the direction keeps its gradient
        h = h / h.norm(dim=1, keepdim=True).detach().clamp_min(1e-6)
        return self.head(h)


torch.manual_seed(0)
model = TwoStage()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x, y = torch.randn(16, 6), torch.randn(16, 1)
before = model.encoder[0].weight.clone()
for _ in range(2):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()

assert model.encoder[0].weight.grad is not None
assert model.encoder[0].weight.grad.abs().sum() > 0
assert not torch.equal(before, model.encoder[0].weight)
