"""Gradient accumulation over 4 micro-batches, zero_grad() only after each optimizer step: the step uses the sum of all four micro-batch gradients.

Source: https://discuss.pytorch.org/t/pytorch-gradient-accumulation/55955
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

ACCUM = 4

torch.manual_seed(0)
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
micro = [(torch.randn(2, 3), torch.randn(2, 1)) for _ in range(ACCUM)]


def micro_grads(batches):
    """Reference: the weight gradient of each micro-batch alone (same scaling as the loop)."""
    out = []
    for x, y in batches:
        w = model.weight.detach().clone().requires_grad_()
        loss = F.mse_loss(F.linear(x, w, model.bias.detach()), y) / ACCUM
        out.append(torch.autograd.grad(loss, w)[0])
    return out


ref = micro_grads(micro)
seen = None
opt.zero_grad()
for i, (x, y) in enumerate(micro):
    loss = F.mse_loss(model(x), y) / ACCUM
    loss.backward()
    if (i + 1) % ACCUM == 0:
        seen = model.weight.grad.clone()
        opt.step()
        opt.zero_grad()

assert torch.allclose(seen, sum(ref), atol=1e-5)
assert seen.abs().sum() > 0
