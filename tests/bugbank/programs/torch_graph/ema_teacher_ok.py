"""Mean-teacher consistency: the EMA teacher runs under no_grad, the student's prediction stays live.

Source: https://github.com/lhoyer/DAFormer/issues/59
Label: clean
Family: graph
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


def ema_update(teacher, student, alpha=0.99):
    with torch.no_grad():
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.mul_(alpha).add_(s, alpha=1 - alpha)


def consistency_step(student, teacher, x_weak, x_strong, opt):
    with torch.no_grad():
        target = F.softmax(teacher(x_weak), dim=1)
    pred = F.log_softmax(student(x_strong), dim=1)
    loss = F.kl_div(pred, target, reduction="batchmean")
    opt.zero_grad()
    loss.backward()
    opt.step()
    ema_update(teacher, student)


torch.manual_seed(0)
student = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
teacher = copy.deepcopy(student).requires_grad_(False)
opt = torch.optim.SGD(student.parameters(), lr=0.1)
x = torch.randn(8, 6)
start = student[0].weight.clone()
consistency_step(student, teacher, x, x + 0.1 * torch.randn_like(x), opt)

assert student[0].weight.grad is not None and student[0].weight.grad.abs().sum() > 0
assert not torch.equal(start, student[0].weight)
assert teacher[0].weight.grad is None
