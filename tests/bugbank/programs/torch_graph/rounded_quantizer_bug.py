"""A quantisation-aware layer rounds its activations with torch.round; the layer before it gets zero gradient.

Source: https://discuss.pytorch.org/t/torch-round-gradient/28628/4
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class QuantAct(nn.Module):
    def __init__(self, levels=4):
        super().__init__()
        self.levels = levels

    def forward(self, x):
        x = torch.sigmoid(x) * (self.levels - 1)
        return torch.round(x) / (self.levels - 1)  # BUG


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 6), QuantAct(), nn.Linear(6, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(8, 5), torch.randn(8, 1)
start = model[0].weight.clone()
opt.zero_grad()
loss = ((model(x) - y) ** 2).mean()
loss.backward()
opt.step()

# round() has derivative exactly zero: the first layer's gradient is all zeros
assert model[0].weight.grad is not None
assert torch.count_nonzero(model[0].weight.grad) == 0
assert torch.equal(start, model[0].weight)
assert model[2].weight.grad.abs().sum() > 0
