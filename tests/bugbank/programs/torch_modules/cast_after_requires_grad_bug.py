"""From-scratch regression: weights made with requires_grad=True and then cast with .to(device, dtype) are copies, not leaves; the optimizer refuses them.

Source: https://github.com/hhsecond/HandsOnDeepLearningWithPytorch/issues/2
        https://github.com/pytorch/pytorch/issues/12627
Label: buggy
Family: params
Frameworks: torch
"""
import torch

torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
dtype = torch.float64

x = torch.randn(64, 3, dtype=dtype, device=device)
true_w = torch.tensor([[1.5], [-2.0], [0.5]], dtype=dtype, device=device)
y = x @ true_w + 0.3

w = torch.randn(3, 1, requires_grad=True).to(device, dtype)  # BUG
b = torch.zeros(1, requires_grad=True).to(device, dtype)  # BUG


def fit(params, steps=3, lr=0.1):
    optimizer = torch.optim.SGD(params, lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((x @ params[0] + params[1] - y) ** 2).mean()
        loss.backward()
        optimizer.step()
    return loss.item()


try:
    fit([w, b])
except ValueError as err:
    assert "non-leaf" in str(err)
else:
    raise AssertionError("expected the optimizer to refuse the non-leaf weights")
assert not w.is_leaf and not b.is_leaf
