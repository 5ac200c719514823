"""Deep supervision: teacher outputs are frozen with map(lambda t: t.detach()...), the student heads stay live.

Source: https://github.com/pytorch/pytorch/issues/61410
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class MultiScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(8, 8)
        self.heads = nn.ModuleList([nn.Linear(8, 2) for _ in range(3)])

    def forward(self, x):
        h = torch.relu(self.stem(x))
        return [head(h) for head in self.heads]


torch.manual_seed(0)
student, teacher = MultiScale(), MultiScale()
opt = torch.optim.SGD(student.parameters(), lr=0.1)
x = torch.randn(6, 8)
targets = list(map(lambda t: t.detach(), teacher(x)))
preds = student(x)
loss = sum(F.mse_loss(p, t) for p, t in zip(preds, targets))
opt.zero_grad()
loss.backward()
opt.step()

assert student.stem.weight.grad is not None and student.stem.weight.grad.abs().sum() > 0
assert teacher.stem.weight.grad is None
