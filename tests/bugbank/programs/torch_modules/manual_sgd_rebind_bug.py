"""Hand-written gradient descent for a linear fit rebinds the weights (`w = w - lr * w.grad`) under no_grad instead of updating them in place: the new w is a plain tensor and the next backward raises.

Source: https://mlkatas.com/kata/23
Label: buggy
Family: loop
Frameworks: torch
"""
import torch


def fit(x, y, steps=3, lr=0.05):
    w = torch.zeros(x.shape[1], 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        pred = x @ w + b
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w = w - lr * w.grad  # BUG
            b = b - lr * b.grad  # BUG
    return w, b


if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(20, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    try:
        fit(x, y)
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("the second step should have had nothing to differentiate")
