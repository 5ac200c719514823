"""A layer registers its per-feature gains through its own `add_weight` helper that stores requires_grad tensors with setattr: they never become parameters.

Source: https://github.com/pytorch/pytorch/issues/20089
Label: buggy
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
            self.add_weight(f"gain{i}", (d,))

    def add_weight(self, name, shape):
        # meant as a shorthand for register_parameter
        setattr(self, name, torch.ones(shape, requires_grad=True))  # BUG

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
    # the gains got gradients (they are leaves) but no optimizer holds them: still ones
    assert m.gain0.grad is not None
    assert torch.equal(m.gain0.detach(), torch.ones(8))
    assert torch.equal(m.gain1.detach(), torch.ones(2))
    assert len(list(m.parameters())) == 4
