"""Notebook-style noisy regressor: the head returns a dict and the noisy output is drawn with torch.normal, so both heads get zero gradient.

Source: https://github.com/pytorch/pytorch/issues/4620
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn

torch.manual_seed(0)


class NoisyHead(nn.Module):
    def __init__(self, d_in):
        super().__init__()
        self.loc = nn.Linear(d_in, 1)
        self.log_scale = nn.Linear(d_in, 1)

    def forward(self, h):
        return {"mean": self.loc(h), "std": self.log_scale(h).exp()}


# %% data and model
x = torch.randn(32, 5)
y = x[:, :1] * 2.0 + 0.1 * torch.randn(32, 1)
head = NoisyHead(5)
opt = torch.optim.Adam(head.parameters(), lr=1e-2)

# %% one training step
out = head(x)
pred = torch.normal(out["mean"], out["std"])  # BUG
loss = nn.functional.mse_loss(pred, y)
opt.zero_grad()
loss.backward()

# %% check: torch.normal's backward is defined as zeros for mean and std
assert head.loc.weight.grad is not None
assert torch.count_nonzero(head.loc.weight.grad) == 0
assert torch.count_nonzero(head.log_scale.weight.grad) == 0
