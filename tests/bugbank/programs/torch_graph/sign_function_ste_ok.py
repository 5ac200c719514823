"""A BinaryNet-style nn.Linear subclass binarizes self.weight through a custom autograd.Function whose backward passes the gradient straight through.

Source: https://github.com/itayhubara/BinaryNet.pytorch/issues/25
        https://github.com/kyegomez/BitNet/issues/9
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sign(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * (x.abs() <= 1).to(grad_output.dtype)


class BinarizedLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, SignSTE.apply(self.weight), self.bias)


torch.manual_seed(0)
model = nn.Sequential(BinarizedLinear(8, 12), nn.Hardtanh(), BinarizedLinear(12, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x, y = torch.randn(16, 8) * 0.5, torch.randint(0, 2, (16,))
start = model[0].weight.detach().clone()
for _ in range(2):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for layer in (model[0], model[2]):
            layer.weight.clamp_(-1, 1)

assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0
assert not torch.equal(start, model[0].weight)
