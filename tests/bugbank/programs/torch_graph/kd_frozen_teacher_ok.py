"""Knowledge distillation: a frozen teacher's soft targets come from a no_grad helper; only the student trains.

Source: https://github.com/lucidrains/vit-pytorch/issues/289
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn
from torch.nn import functional as F


class Distiller:
    def __init__(self, teacher, student, temperature=3.0, alpha=0.5):
        self.teacher = teacher.eval()
        self.student = student
        self.temperature = temperature
        self.alpha = alpha

    @torch.no_grad()
    def soft_targets(self, x):
        return F.softmax(self.teacher(x) / self.temperature, dim=-1)

    def loss(self, x, y):
        student_logits = self.student(x)
        teacher_probs = self.soft_targets(x)
        kd = F.kl_div(F.log_softmax(student_logits / self.temperature, dim=-1), teacher_probs,
                      reduction="batchmean") * self.temperature ** 2
        ce = F.cross_entropy(student_logits, y)
        return self.alpha * kd + (1 - self.alpha) * ce


torch.manual_seed(0)
teacher = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 4))
student = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 4))
distiller = Distiller(teacher, student)
optimizer = torch.optim.SGD(student.parameters(), lr=0.1)

x = torch.randn(10, 12)
y = torch.randint(0, 4, (10,))
start = student[0].weight.detach().clone()
teacher_start = teacher[0].weight.detach().clone()
for epoch in range(2):
    loss = distiller.loss(x, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

assert student[0].weight.grad is not None and student[0].weight.grad.abs().sum() > 0
assert not torch.equal(start, student[0].weight)
assert teacher[0].weight.grad is None
assert torch.equal(teacher_start, teacher[0].weight)
