"""An ordinal 'regression' takes the class index from torch.max(scores, 1) and regresses it on the grade: backward raises at once.

Source: https://php.bkmy88.com/faq/1835025.html
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn, optim

torch.manual_seed(0)


class GradeNet(nn.Module):
    def __init__(self, n_grades=5):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.scores = nn.Linear(16, n_grades)

    def forward(self, x):
        return self.scores(self.body(x))


def predicted_grade(scores):
    _, grade = torch.max(scores, 1)  # BUG
    return grade.float()  # BUG


net = GradeNet()
criterion = nn.SmoothL1Loss()
optimizer = optim.SGD(net.parameters(), lr=0.05)
features = torch.randn(10, 8)
grades = torch.randint(0, 5, (10,)).float()

optimizer.zero_grad()
loss = criterion(predicted_grade(net(features)), grades)
try:
    loss.backward()
except RuntimeError as err:
    assert "does not require grad" in str(err)
else:
    raise AssertionError("max indices carry no gradient")
assert net.scores.weight.grad is None
