"""Hand-written SGD that updates parameters in place under no_grad (`p -= lr * p.grad`, `p.sub_`), then clears the gradients: the same tensors stay leaves and keep training.

Source: https://mlkatas.com/kata/23
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn


def fit_tensors(x, y, steps=3, lr=0.05):
    w = torch.zeros(x.shape[1], 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
            b.sub_(lr * b.grad)
        w.grad.zero_()
        b.grad = None
    return w, b


def fit_module(net, x, y, steps=3, lr=0.05):
    for _ in range(steps):
        net.zero_grad()
        nn.functional.mse_loss(net(x), y).backward()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(p.grad, alpha=-lr)
    return net


if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(20, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    w, b = fit_tensors(x, y)
    assert w.is_leaf and w.requires_grad and w.abs().sum() > 0
    net = nn.Linear(3, 1)
    w0 = net.weight.detach().clone()
    fit_module(net, x, y)
    assert net.weight.grad.abs().sum() > 0
    assert not torch.equal(w0, net.weight.detach())
