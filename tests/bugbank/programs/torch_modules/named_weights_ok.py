"""Per-layer gains created once in __init__ with setattr of nn.Parameter (a name-built cache of weights): registered and trained.

Source: https://github.com/pytorch/pytorch/issues/20089
Label: clean
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn


class GatedMLP(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        for i, d in enumerate(dims[1:]):
            setattr(self, f"gain{i}", nn.Parameter(torch.ones(d)))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = torch.tanh(layer(x)) * getattr(self, f"gain{i}")
        return x


def fit(model, x, y, steps=3):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    m = GatedMLP([4, 8, 2])
    x, y = torch.randn(10, 4), torch.randn(10, 2)
    fit(m, x, y)
    assert m.gain0.grad is not None and m.gain0.grad.abs().sum() > 0
    assert not torch.equal(m.gain0.detach(), torch.ones(8))
    assert not torch.equal(m.gain1.detach(), torch.ones(2))
