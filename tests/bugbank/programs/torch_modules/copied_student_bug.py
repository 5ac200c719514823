"""A helper 'prepares' the model for training by deep-copying it before building the optimizer: the optimizer steps the copy, the model the loop trains never changes.

Source: https://github.com/skorch-dev/skorch/issues/317
Label: buggy
Family: loop
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


def make_optimizer(model, lr=0.1):
    trainable = copy.deepcopy(model).train()  # BUG
    return torch.optim.SGD(trainable.parameters(), lr=lr)  # BUG


def train(model, data, epochs=2):
    opt = make_optimizer(model)
    for _ in range(epochs):
        for x, y in data:
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2))
    data = [(torch.randn(6, 5), torch.randint(0, 2, (6,))) for _ in range(2)]
    w0 = [p.detach().clone() for p in model.parameters()]
    train(model, data)
    assert model[0].weight.grad is not None
    assert all(torch.equal(a, p) for a, p in zip(w0, model.parameters()))
