"""A forward hook stores a detached copy of an activation for a diagnostics plot and returns nothing, so the output is untouched.

Source: https://github.com/pytorch/pytorch/pull/74414
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


class Probe:
    def __init__(self, module):
        self.stats = []
        self.handle = module.register_forward_hook(self.record)

    def record(self, module, inputs, output):
        act = output.detach()
        self.stats.append((act.mean().item(), (act > 0).float().mean().item()))


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
probe = Probe(model[1])
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x, y = torch.randn(16, 10), torch.randint(0, 4, (16,))
first_before = model[0].weight.detach().clone()
for _ in range(2):
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()
probe.handle.remove()

assert len(probe.stats) == 2
assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0
assert not torch.equal(first_before, model[0].weight.detach())
