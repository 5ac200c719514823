"""A searchable cell keeps its architecture weights as an nn.Parameter and a fixed op mask as a buffer constant: the weights train, the mask stays.

Source: https://github.com/vicFigure/EAutoDet/issues/3
Label: clean
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
        self.alphas = nn.Parameter(1e-3 * torch.randn(len(self.ops)))
        # ops pruned by an earlier search stage: a constant, saved with the model, not trained
        self.register_buffer("mask", torch.tensor([0.0, 0.0, float("-inf")]))

    def forward(self, x):
        w = F.softmax(self.alphas + self.mask, dim=0)
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

assert cell.alphas.grad is not None and cell.alphas.grad[:2].abs().sum() > 0
assert not torch.equal(a0, cell.alphas.detach())
