"""A forward hook that caches a backbone block's activation returns the detached copy, which replaces the block's output: the block stops training.

Source: https://github.com/pytorch/pytorch/issues/1926
        https://github.com/pytorch/pytorch/pull/74414
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Sequential(
    nn.Linear(10, 32), nn.ReLU(),
    nn.Linear(32, 32), nn.ReLU(),
    nn.Linear(32, 4),
)
activations = {}


def cache_activation(name):
    def hook(module, inputs, output):
        output = output.detach()  # BUG
        activations[name] = output
        return output
    return hook


model[1].register_forward_hook(cache_activation("block1"))

opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x, y = torch.randn(16, 10), torch.randint(0, 4, (16,))
first_before = model[0].weight.detach().clone()
for epoch in range(2):
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()

assert model[0].weight.grad is None
assert torch.equal(first_before, model[0].weight.detach())
assert model[2].weight.grad is not None
