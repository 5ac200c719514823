"""Linear regression from scratch: the weights are nn.Parameter(torch.rand(...) * 0.01), a leaf made from the scaled tensor, so SGD trains them.

Source: https://github.com/d2l-ai/d2l-en/pull/1713
Label: clean
Family: loop
Frameworks: torch
"""
import torch
from torch import nn

torch.manual_seed(0)
n_in, n_out = 5, 2
W = nn.Parameter(torch.rand(n_in, n_out) * 0.01)
b = torch.zeros(n_out, requires_grad=True)


def net(X):
    return X @ W + b


opt = torch.optim.SGD([W, b], lr=0.1)
X = torch.randn(20, n_in)
Y = X @ torch.randn(n_in, n_out)
W0 = W.detach().clone()
for _ in range(3):
    opt.zero_grad()
    loss = ((net(X) - Y) ** 2).mean()
    loss.backward()
    opt.step()

assert W.is_leaf and W.grad is not None and W.grad.abs().sum() > 0
assert not torch.equal(W0, W.detach())
