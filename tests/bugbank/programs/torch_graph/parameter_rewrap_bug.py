"""An attention block stores its computed query as nn.Parameter(...) in forward, cutting the projection off.

Source: https://discuss.pytorch.org/t/requires-grad-propagation/93792
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class Pool(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.query_proj = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, 1)

    def forward(self, x):
        self.query = nn.Parameter(self.query_proj(x.mean(dim=1)))  # BUG
        scores = torch.einsum("bd,btd->bt", self.query, x).softmax(dim=1)
        pooled = torch.einsum("bt,btd->bd", scores, x)
        return self.out(pooled)


torch.manual_seed(0)
model = Pool()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x, y = torch.randn(3, 5, 8), torch.randn(3, 1)
start = model.query_proj.weight.clone()
for _ in range(2):
    pred = model(x)
    loss = ((pred - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()

assert model.query_proj.weight.grad is None
assert torch.equal(start, model.query_proj.weight)
assert model.out.weight.grad is not None
