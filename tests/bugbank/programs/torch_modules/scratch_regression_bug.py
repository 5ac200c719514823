"""Linear regression from scratch: the weights are made with requires_grad=True and then scaled by 0.01, so they are non-leaf tensors and the optimizer refuses them at once (ValueError).

Source: https://github.com/d2l-ai/d2l-en/pull/1713
        https://github.com/Linardos/SalEMA/issues/7
Label: buggy
Family: loop
Frameworks: torch
"""
import torch

torch.manual_seed(0)
n_in, n_out = 5, 2
W = torch.rand(n_in, n_out, requires_grad=True) * 0.01  # BUG
b = torch.zeros(n_out, requires_grad=True)


def net(X):
    return X @ W + b


def get_optimizer():
    return torch.optim.SGD([W, b], lr=0.1)  # BUG


try:
    opt = get_optimizer()
except ValueError as err:
    assert "non-leaf" in str(err), err
else:
    raise AssertionError("the optimizer accepted a non-leaf tensor")
