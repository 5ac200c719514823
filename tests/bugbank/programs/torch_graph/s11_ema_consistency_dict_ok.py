"""A training helper adds a consistency term between the model's dict output and an EMA copy's prediction taken under no_grad; the EMA weights follow in place with `lerp_`.

Source: https://github.com/wandb/senpai/pull/963
Label: clean
Family: graph
Frameworks: torch
"""
import copy

import torch
from torch import nn


class SurfaceNet(nn.Module):
    def __init__(self, d_in=5, d_out=2):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(d_in, 16), nn.GELU(), nn.Linear(16, d_out))

    def forward(self, batch):
        return {"preds": self.mlp(batch["x"])}


def make_ema(model):
    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema, model, decay=0.9):
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1 - decay)


def train_step(model, ema_model, optimizer, x, y, surf_mask, consist_weight=0.1):
    pred = model({"x": x})["preds"]
    loss = ((pred - y).abs() * surf_mask).sum() / surf_mask.sum().clamp(min=1)
    with torch.no_grad():
        ema_pred = ema_model({"x": x})["preds"].float()
    consist_err = (pred - ema_pred.detach()) ** 2
    consist = (consist_err * surf_mask).sum() / surf_mask.sum().clamp(min=1)
    loss = loss + consist_weight * consist
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    update_ema(ema_model, model)
    return {"loss": loss.item(), "consist": consist.item()}


torch.manual_seed(0)
model = SurfaceNet()
ema_model = make_ema(model)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
x, y = torch.randn(10, 5), torch.randn(10, 2)
surf_mask = (torch.rand(10, 1) > 0.3).float()
before = model.mlp[0].weight.detach().clone()
for _ in range(2):
    stats = train_step(model, ema_model, optimizer, x, y, surf_mask)
assert not torch.equal(before, model.mlp[0].weight)
assert not torch.equal(ema_model.mlp[0].weight, before)
