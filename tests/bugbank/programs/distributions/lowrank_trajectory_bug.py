"""Best-of-K trajectory forecasting with a low-rank Gaussian head: .sample() detaches the K candidates, so the best-of-K term trains nothing.

Source: https://github.com/pytorch/pytorch/issues/7705
Label: buggy
Family: sampling
Frameworks: torch
"""
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


def best_of_k(head, ctx, future, k=6):
    dist = head(ctx)
    candidates = dist.sample((k,))  # BUG
    errors = ((candidates - future.unsqueeze(0)) ** 2).mean(-1)
    return errors.min(dim=0).values.mean(), candidates


torch.manual_seed(0)
head = TrajectoryHead(ctx_dim=5, horizon=4)
ctx, future = torch.randn(8, 5), torch.randn(8, 4)
opt = torch.optim.Adam(head.parameters(), lr=1e-3)
loss, candidates = best_of_k(head, ctx, future)
opt.zero_grad()
try:
    loss.backward()
except RuntimeError as err:
    assert "does not require grad" in str(err)
else:
    raise AssertionError("expected backward to fail on the detached candidates")
assert candidates.grad_fn is None and not candidates.requires_grad
assert head.loc.weight.grad is None
