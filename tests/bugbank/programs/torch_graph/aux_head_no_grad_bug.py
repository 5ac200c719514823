"""The auxiliary head's loss is computed inside torch.no_grad() to save memory, so the auxiliary classifier never trains.

Source: https://github.com/rasbt/LLMs-from-scratch/pull/119
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(6, 12), nn.ReLU())
        self.main_head = nn.Linear(12, 3)
        self.aux_head = nn.Linear(12, 3)

    def forward(self, x):
        h = self.trunk(x)
        return self.main_head(h), h


def training_loss(model, x, y, aux_weight=0.4):
    logits, hidden = model(x)
    main = F.cross_entropy(logits, y)
    with torch.no_grad():  # BUG
        aux = F.cross_entropy(model.aux_head(hidden), y)
    return main + aux_weight * aux


model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
aux_start = model.aux_head.weight.detach().clone()
for _ in range(2):
    opt.zero_grad()
    training_loss(model, x, y).backward()
    opt.step()

assert model.aux_head.weight.grad is None
assert torch.equal(aux_start, model.aux_head.weight)
assert model.main_head.weight.grad is not None
