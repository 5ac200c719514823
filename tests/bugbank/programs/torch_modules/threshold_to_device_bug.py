"""A learnable threshold is built as nn.Parameter(...).to(device, dtype): `.to` returns a plain tensor copy, so the module registers nothing and the threshold never moves.

Source: https://github.com/pytorch/pytorch/issues/39062
        https://github.com/pytorch/pytorch/issues/17484
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
DTYPE = torch.float64


class SoftThreshold(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.threshold = nn.Parameter(torch.full((n,), 0.5)).to(device, DTYPE)  # BUG

    def forward(self, x):
        return torch.sign(x) * torch.relu(x.abs() - self.threshold)


model = nn.Sequential(nn.Linear(4, 4), SoftThreshold(4)).to(device, DTYPE)
opt = torch.optim.Adam(model.parameters(), lr=0.05)
torch.manual_seed(0)
x = torch.randn(20, 4, device=device, dtype=DTYPE)
target = torch.zeros(20, 4, device=device, dtype=DTYPE)
for _ in range(3):
    opt.zero_grad()
    loss = (model(x) - target).pow(2).mean()
    loss.backward()
    opt.step()

thr = model[1].threshold
assert not isinstance(thr, nn.Parameter)
assert not thr.is_leaf and thr.grad is None
assert torch.equal(thr.detach(), torch.full((4,), 0.5, device=device, dtype=DTYPE))
