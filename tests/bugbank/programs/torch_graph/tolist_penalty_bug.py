"""A smoothness penalty is computed in a Python loop over `.tolist()` values and re-wrapped with torch.tensor.

Source: https://github.com/pytorch/pytorch/issues/61410
Label: buggy
Family: graph
Frameworks: torch
"""
import math

import torch
import torch.nn as nn


def smoothness_penalty(curve):
    values = curve.tolist()  # BUG
    total = 0.0
    for a, b in zip(values, values[1:]):
        total += math.log1p((b - a) ** 2)
    return torch.tensor(total / (len(values) - 1), requires_grad=True)  # BUG


def train(model, t, steps=2):
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        curve = model(t).squeeze(-1)
        opt.zero_grad()
        loss = smoothness_penalty(curve)
        loss.backward()
        opt.step()
    return model


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    t = torch.linspace(0, 1, 9).unsqueeze(1)
    start = net[0].weight.clone()
    train(net, t)
    assert net[0].weight.grad is None
    assert torch.equal(start, net[0].weight)
