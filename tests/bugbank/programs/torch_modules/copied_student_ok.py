"""Mean-teacher: the teacher is a deep copy of the student, frozen and updated by EMA under no_grad; the optimizer holds the student, which trains.

Source: https://github.com/skorch-dev/skorch/issues/317
Label: clean
Family: loop
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


@torch.no_grad()
def ema_update(teacher, student, decay=0.9):
    for t, s in zip(teacher.parameters(), student.parameters()):
        t.mul_(decay).add_(s, alpha=1 - decay)


def train(student, data, epochs=2):
    teacher = copy.deepcopy(student).requires_grad_(False)
    opt = torch.optim.SGD(student.parameters(), lr=0.1)
    for _ in range(epochs):
        for x, y in data:
            opt.zero_grad()
            logits = student(x)
            with torch.no_grad():
                soft = F.softmax(teacher(x), dim=-1)
            loss = F.cross_entropy(logits, y) + F.kl_div(F.log_softmax(logits, -1), soft, reduction="batchmean")
            loss.backward()
            opt.step()
            ema_update(teacher, student)
    return teacher


if __name__ == "__main__":
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    data = [(torch.randn(6, 5), torch.randint(0, 2, (6,))) for _ in range(2)]
    w0 = [p.detach().clone() for p in student.parameters()]
    teacher = train(student, data)
    assert student[0].weight.grad.abs().sum() > 0
    assert all(not torch.equal(a, p) for a, p in zip(w0, student.parameters()))
    assert all(t.grad is None for t in teacher.parameters())
