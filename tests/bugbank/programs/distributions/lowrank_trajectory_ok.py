"""Distilling a low-rank Gaussian forecaster: the teacher's .sample() targets are data, the student trains through log_prob.

Source: https://github.com/pytorch/pytorch/issues/7705
Label: clean
Family: sampling
Frameworks: torch
"""
import copy

import torch
from torch import nn
from torch.distributions import LowRankMultivariateNormal


class TrajectoryHead(nn.Module):
    def __init__(self, ctx_dim, horizon, rank=2):
        super().__init__()
        self.horizon, self.rank = horizon, rank
        self.loc = nn.Linear(ctx_dim, horizon)
        self.factor = nn.Linear(ctx_dim, horizon * rank)
        self.diag = nn.Linear(ctx_dim, horizon)

    def forward(self, ctx):
        factor = self.factor(ctx).view(-1, self.horizon, self.rank)
        diag = nn.functional.softplus(self.diag(ctx)) + 1e-3
        return LowRankMultivariateNormal(self.loc(ctx), factor, diag)


def distill_step(student, teacher, opt, ctx, k=6):
    with torch.no_grad():
        targets = teacher(ctx).sample((k,))
    nll = -student(ctx).log_prob(targets).mean()
    opt.zero_grad()
    nll.backward()
    opt.step()
    return nll.item()


torch.manual_seed(0)
teacher = TrajectoryHead(5, 4)
student = copy.deepcopy(teacher)
nn.init.normal_(student.loc.weight)
opt = torch.optim.Adam(student.parameters(), lr=0.01)
ctx = torch.randn(8, 5)
before = student.factor.weight.detach().clone()
distill_step(student, teacher, opt, ctx)
assert student.factor.weight.grad.abs().sum() > 0
assert student.loc.weight.grad.abs().sum() > 0
assert not torch.equal(before, student.factor.weight.detach())
