"""Gradient accumulation over 4 micro-batches, but zero_grad() runs on every micro-batch: each step uses only the last micro-batch's gradient, the other three are thrown away.

Source: https://discuss.pytorch.org/t/pytorch-gradient-accumulation/55955
Label: buggy
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
for i, (x, y) in enumerate(micro):
    opt.zero_grad()  # BUG
    loss = F.mse_loss(model(x), y) / ACCUM
    loss.backward()
    if (i + 1) % ACCUM == 0:
        seen = model.weight.grad.clone()
        opt.step()

assert torch.allclose(seen, ref[-1], atol=1e-6)  # only the last micro-batch survived
assert not torch.allclose(seen, sum(ref), atol=1e-4)
