"""Architecture weights of a searchable cell are registered as a buffer that requires grad: they receive gradients but are not in model.parameters(), so the optimizer never updates them.

Source: https://github.com/vicFigure/EAutoDet/issues/3
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MixedOp(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ops = nn.ModuleList([nn.Linear(d, d), nn.Sequential(nn.Linear(d, d), nn.ReLU()), nn.Identity()])
        self.register_buffer("alphas", (1e-3 * torch.randn(len(self.ops))).requires_grad_())  # BUG

    def forward(self, x):
        w = F.softmax(self.alphas, dim=0)
        return sum(wi * op(x) for wi, op in zip(w, self.ops))


torch.manual_seed(0)
cell = MixedOp(5)
opt = torch.optim.Adam(cell.parameters(), lr=0.05)
x, y = torch.randn(16, 5), torch.randn(16, 5)
a0 = cell.alphas.detach().clone()
for _ in range(3):
    opt.zero_grad()
    F.mse_loss(cell(x), y).backward()
    opt.step()

assert "alphas" not in dict(cell.named_parameters())
assert cell.alphas.grad is not None
assert torch.equal(a0, cell.alphas.detach())
