"""A two-stage regressor detaches the encoder output in forward(), so the encoder never trains.

Source: https://github.com/pytorch/pytorch/issues/91529
Label: buggy
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
        h = self.encoder(x).detach()  # BUG
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

assert model.encoder[0].weight.grad is None
assert torch.equal(before, model.encoder[0].weight)
assert model.head.weight.grad is not None
