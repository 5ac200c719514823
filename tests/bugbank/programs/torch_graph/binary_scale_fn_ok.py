"""Straight-through sign Function returns None only for its float clip argument; the learnable scale multiplies outside it and trains.

Source: https://github.com/Xilinx/brevitas/issues/557
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, clip):
        ctx.save_for_backward(w)
        ctx.clip = clip
        return torch.sign(w)

    @staticmethod
    def backward(ctx, grad_out):
        (w,) = ctx.saved_tensors
        return grad_out * (w.abs() <= ctx.clip).to(grad_out.dtype), None


class BinaryConvHead(nn.Module):
    def __init__(self, n_in, n_out, clip=1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) * 0.1)
        self.scale = nn.Parameter(torch.full((n_out, 1), 0.5))
        self.clip = clip

    def forward(self, x):
        w_bin = SignSTE.apply(self.weight, self.clip) * self.scale
        return F.linear(x, w_bin)


torch.manual_seed(0)
head = BinaryConvHead(6, 3)
opt = torch.optim.Adam(head.parameters(), lr=0.01)
x, y = torch.randn(16, 6), torch.randn(16, 3)
scale_before = head.scale.detach().clone()
for _ in range(3):
    opt.zero_grad()
    F.mse_loss(head(x), y).backward()
    opt.step()
assert head.scale.grad is not None and head.scale.grad.abs().sum() > 0
assert not torch.equal(scale_before, head.scale.detach())
assert head.weight.grad.abs().sum() > 0
