"""A flat mean-teacher script makes pseudo-labels with the EMA teacher under no_grad (argmax, `.detach()`), trains the student on them, and updates the teacher in place through `.data`.

Source: https://github.com/lhoyer/DAFormer/issues/59
Label: clean
Family: graph
Frameworks: torch
"""
import copy

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(0)
student = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
teacher = copy.deepcopy(student)
for p in teacher.parameters():
    p.requires_grad_(False)
optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
alpha = 0.99

src_x, src_y = torch.randn(8, 6), torch.randint(0, 3, (8,))
tgt_x = torch.randn(8, 6)
before = student[0].weight.detach().clone()

for it in range(3):
    optimizer.zero_grad()
    src_loss = F.cross_entropy(student(src_x), src_y)
    with torch.no_grad():
        ema_logits = teacher(tgt_x)
        pseudo_prob, pseudo_label = torch.softmax(ema_logits.detach(), dim=1).max(dim=1)
        pseudo_weight = (pseudo_prob > 0.4).float().mean().item()
    mix_loss = pseudo_weight * F.cross_entropy(student(tgt_x), pseudo_label)
    (src_loss + mix_loss).backward()
    optimizer.step()
    for ema_p, p in zip(teacher.parameters(), student.parameters()):
        ema_p.data.mul_(alpha).add_(p.data, alpha=1 - alpha)

assert not torch.equal(before, student[0].weight)
assert student[0].weight.grad.abs().sum() > 0
