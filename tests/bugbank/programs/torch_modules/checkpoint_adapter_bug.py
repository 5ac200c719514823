"""Adapter tuning: the base layers are frozen and each adapted layer is run through torch.utils.checkpoint with the default (reentrant) mode; the input does not require grad, so the adapters inside the checkpoint never get gradients.

Source: https://github.com/huggingface/transformers/issues/26221
Label: buggy
Family: loop
Frameworks: torch
"""
import warnings

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp


class AdaptedLayer(nn.Module):
    def __init__(self, d, r=2):
        super().__init__()
        self.base = nn.Linear(d, d)
        self.down = nn.Linear(d, r, bias=False)
        self.up = nn.Linear(r, d, bias=False)

    def forward(self, x):
        return torch.relu(self.base(x)) + self.up(self.down(x))


class Net(nn.Module):
    def __init__(self, d=6, depth=2):
        super().__init__()
        self.layers = nn.ModuleList(AdaptedLayer(d) for _ in range(depth))
        self.head = nn.Linear(d, 1)
        for layer in self.layers:
            layer.base.requires_grad_(False)

    def forward(self, x, grad_ckpt=True):
        for layer in self.layers:
            x = cp.checkpoint(layer, x) if grad_ckpt else layer(x)  # BUG
        return self.head(x)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    net = Net()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.1)
    x, y = torch.randn(5, 6), torch.randn(5, 1)
    opt.zero_grad()
    torch.nn.functional.mse_loss(net(x), y).backward()
    opt.step()
    assert all(l.down.weight.grad is None and l.up.weight.grad is None for l in net.layers)
    assert net.head.weight.grad is not None
