"""A learnable norm cutoff selects which embeddings enter the loss by boolean indexing: the cutoff itself never gets a gradient.

Source: https://discuss.pytorch.org/t/optimize-masking-parameter/204381
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class CutoffPooling(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)
        self.cutoff = nn.Parameter(torch.tensor(2.0))

    def forward(self, x):
        z = self.proj(x)
        norms = z.norm(dim=1)
        inliers = z[norms < self.cutoff]  # BUG
        return inliers, norms


def objective(pool, x):
    inliers, norms = pool(x)
    # pull inliers to the origin, reward keeping many of them
    return inliers.norm(dim=1).mean() - 0.1 * inliers.size(0) / x.size(0)


torch.manual_seed(0)
pool = CutoffPooling(5, 3)
opt = torch.optim.SGD(pool.parameters(), lr=0.05)
x = torch.randn(32, 5)
start = pool.cutoff.detach().clone()
for _ in range(3):
    opt.zero_grad()
    loss = objective(pool, x)
    loss.backward()
    opt.step()

assert pool.cutoff.grad is None
assert torch.equal(start, pool.cutoff.detach())
assert pool.proj.weight.grad is not None
