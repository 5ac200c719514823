"""A training script keeps an exponential moving average of the weights in a deep copy whose parameters are frozen; the copy is updated under no_grad after every optimizer step and used only for evaluation, while the live model trains.

Source: https://github.com/wandb/senpai/pull/214
Label: clean
Family: loop
Frameworks: torch
"""
import copy

import torch
from torch import nn

DECAY = 0.9

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 10), nn.GELU(), nn.Linear(10, 1))
ema_model = copy.deepcopy(model)
for p in ema_model.parameters():
    p.requires_grad_(False)

optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
loss_fn = nn.L1Loss()
x, y = torch.randn(16, 5), torch.randn(16, 1)
w_start = model[0].weight.detach().clone()
ema_start = ema_model[0].weight.detach().clone()

for step in range(3):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for p_ema, p in zip(ema_model.parameters(), model.parameters()):
            p_ema.mul_(DECAY).add_(p, alpha=1 - DECAY)

ema_model.eval()
with torch.no_grad():
    val = loss_fn(ema_model(x), y).item()

assert model[0].weight.grad.abs().sum() > 0
assert not torch.equal(w_start, model[0].weight)
assert not torch.equal(ema_start, ema_model[0].weight)
assert val == val  # finite evaluation
