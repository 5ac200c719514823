"""A from-scratch two-layer network draws each weight through an `init_weight` helper that scales a requires_grad tensor by 0.1: the weights are non-leaf results, and SGD refuses them ("can't optimize a non-leaf Tensor").

Source: https://forum.pyro.ai/t/try-to-understand-param-with-constraints/4761
Label: buggy
Family: params
Frameworks: torch
"""
import torch


def init_weight(*shape, scale=0.1):
    return torch.randn(*shape, requires_grad=True) * scale  # BUG


def forward(x, params):
    w1, b1, w2, b2 = params
    return torch.tanh(x @ w1 + b1) @ w2 + b2


if __name__ == "__main__":
    torch.manual_seed(0)
    W1 = init_weight(4, 8)
    b1 = torch.zeros(8, requires_grad=True)
    W2 = init_weight(8, 1)
    b2 = torch.zeros(1, requires_grad=True)
    params = [W1, b1, W2, b2]
    try:
        opt = torch.optim.SGD(params, lr=0.1)  # BUG
    except ValueError as err:
        assert "non-leaf" in str(err)
    else:
        raise AssertionError("SGD accepted non-leaf weights")
    assert not W1.is_leaf and not W2.is_leaf and b1.is_leaf
