"""A learnable cutoff applied as a sigmoid soft mask trains; the hard comparison is only counted for logging.

Source: https://discuss.pytorch.org/t/optimize-masking-parameter/204381
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class SoftCutoffPooling(nn.Module):
    def __init__(self, dim_in, dim_out, sharpness=10.0):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)
        self.cutoff = nn.Parameter(torch.tensor(2.0))
        self.sharpness = sharpness

    def forward(self, x):
        z = self.proj(x)
        norms = z.norm(dim=1)
        weights = torch.sigmoid(self.sharpness * (self.cutoff - norms))
        return weights, norms


torch.manual_seed(0)
pool = SoftCutoffPooling(5, 3)
opt = torch.optim.SGD(pool.parameters(), lr=0.05)
x = torch.randn(32, 5)
start = pool.cutoff.detach().clone()
kept_log = []
for _ in range(3):
    opt.zero_grad()
    weights, norms = pool(x)
    loss = (weights * norms).sum() / weights.sum() - 0.1 * weights.mean()
    loss.backward()
    opt.step()
    kept_log.append((norms < pool.cutoff).float().mean().item())

assert pool.cutoff.grad is not None and pool.cutoff.grad.abs() > 0
assert not torch.equal(start, pool.cutoff.detach())
