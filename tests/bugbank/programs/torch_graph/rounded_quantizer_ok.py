"""A quantisation-aware layer rounds with a straight-through estimator `x + (round(x) - x).detach()`.

Source: https://discuss.pytorch.org/t/torch-round-gradient/28628/4
Label: clean
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
        # forward value is rounded, backward is the identity
        q = x + (torch.round(x) - x).detach()
        return q / (self.levels - 1)


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 6), QuantAct(), nn.Linear(6, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(8, 5), torch.randn(8, 1)
start = model[0].weight.clone()
opt.zero_grad()
loss = ((model(x) - y) ** 2).mean()
loss.backward()
opt.step()

assert torch.count_nonzero(model[0].weight.grad) > 0
assert not torch.equal(start, model[0].weight)
