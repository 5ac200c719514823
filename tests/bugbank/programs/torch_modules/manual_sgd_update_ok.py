"""Linear regression trained with a hand-written SGD step: after backward the weights are updated in place under torch.no_grad() and their .grad is zeroed for the next iteration; no torch.optim optimizer is used.

Source: https://github.com/llSourcell/pytorch_in_5_minutes/issues/1
Label: clean
Family: loop
Frameworks: torch
"""
import torch

torch.manual_seed(0)
x = torch.randn(20, 3)
true_w = torch.tensor([[1.5], [-2.0], [0.5]])
y = x @ true_w + 0.1

w = torch.zeros(3, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1


def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad.zero_()


losses = []
for it in range(30):
    pred = x @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    if it == 0:
        assert w.grad.abs().sum() > 0
    sgd_step([w, b], lr)
    losses.append(loss.item())

assert losses[-1] < losses[0] * 0.5, losses
assert w.abs().sum() > 0
