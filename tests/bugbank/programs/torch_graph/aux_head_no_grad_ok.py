"""A mean-teacher consistency loss: the EMA teacher's targets are made under torch.no_grad(), the student's auxiliary loss is not.

Source: https://github.com/rasbt/LLMs-from-scratch/pull/119
Label: clean
Family: graph
Frameworks: torch
"""
import copy

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


def training_loss(model, teacher, x, y, aux_weight=0.4):
    logits, hidden = model(x)
    main = F.cross_entropy(logits, y)
    with torch.no_grad():
        target = F.softmax(teacher(x)[0], dim=1)
    aux = F.kl_div(F.log_softmax(model.aux_head(hidden), dim=1), target, reduction="batchmean")
    return main + aux_weight * aux


model = Net()
teacher = copy.deepcopy(model)
for p in teacher.parameters():
    p.requires_grad_(False)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
aux_start = model.aux_head.weight.detach().clone()
for _ in range(2):
    opt.zero_grad()
    training_loss(model, teacher, x, y).backward()
    opt.step()
    with torch.no_grad():
        for t, s in zip(teacher.parameters(), model.parameters()):
            t.mul_(0.9).add_(0.1 * s)

assert model.aux_head.weight.grad is not None and model.aux_head.weight.grad.abs().sum() > 0
assert not torch.equal(aux_start, model.aux_head.weight)
