"""A binarized linear layer's custom autograd Function returns None as the gradient of its learnable scale: the scale never trains.

Source: https://github.com/Xilinx/brevitas/issues/557
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ScaledSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w, scale):
        ctx.save_for_backward(w)
        return torch.sign(w) * scale

    @staticmethod
    def backward(ctx, grad_out):
        (w,) = ctx.saved_tensors
        grad_w = grad_out * (w.abs() <= 1.0).to(grad_out.dtype)
        return grad_w, None  # BUG


class BinaryLinear(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) * 0.1)
        self.scale = nn.Parameter(torch.full((n_out, 1), 0.5))

    def forward(self, x):
        return F.linear(x, ScaledSign.apply(self.weight, self.scale))


if __name__ == "__main__":
    torch.manual_seed(0)
    layer = BinaryLinear(6, 3)
    opt = torch.optim.Adam(layer.parameters(), lr=0.01)
    x, y = torch.randn(16, 6), torch.randn(16, 3)
    scale_before = layer.scale.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(layer(x), y).backward()
        opt.step()
    assert layer.scale.grad is None
    assert torch.equal(scale_before, layer.scale.detach())
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0
