"""A double-precision layer creates its weight as a local nn.Parameter, initialises it, then stores `w.to(dtype)` on the module: the cast copy is a plain non-leaf tensor, the layer has no weight parameter and the weight never trains.

Source: https://discuss.pytorch.org/t/requires-grad-propagation/93792
Label: buggy
Family: params
Frameworks: torch
"""
import torch
from torch import nn


class Dense64(nn.Module):
    def __init__(self, n_in, n_out, dtype=torch.float64):
        super().__init__()
        w = nn.Parameter(torch.empty(n_out, n_in))
        nn.init.xavier_normal_(w)
        self.weight = w.to(dtype)  # BUG
        self.bias = nn.Parameter(torch.zeros(n_out, dtype=dtype))

    def forward(self, x):
        return x @ self.weight.t() + self.bias


if __name__ == "__main__":
    torch.manual_seed(0)
    layer = Dense64(3, 2)
    w0 = layer.weight.detach().clone()
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.randn(8, 3, dtype=torch.float64)
    y = torch.randn(8, 2, dtype=torch.float64)
    opt.zero_grad()
    ((layer(x) - y) ** 2).mean().backward()
    opt.step()
    assert [n for n, _ in layer.named_parameters()] == ["bias"]
    assert not layer.weight.is_leaf and layer.bias.grad is not None
    assert torch.equal(layer.weight.detach(), w0)
