"""Discrete routing with straight-through Gumbel-softmax: the hard one-hot multiplies the codebook matrix; argmax is only used to log code usage.

Source: https://github.com/tiangexiang/CurveNet/issues/14
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn.functional as F
from torch import nn


class CodeRouter(nn.Module):
    def __init__(self, d=8, n_codes=4):
        super().__init__()
        self.router = nn.Linear(d, n_codes)
        self.codebook = nn.Embedding(n_codes, d)
        self.register_buffer("usage", torch.zeros(n_codes))

    def forward(self, h, tau=1.0):
        onehot = F.gumbel_softmax(self.router(h), tau=tau, hard=True)
        with torch.no_grad():
            self.usage += torch.bincount(onehot.argmax(-1), minlength=self.usage.numel())
        return onehot @ self.codebook.weight


if __name__ == "__main__":
    torch.manual_seed(0)
    layer = CodeRouter()
    head = nn.Linear(8, 1)
    opt = torch.optim.Adam(list(layer.parameters()) + list(head.parameters()), lr=1e-3)
    h, target = torch.randn(6, 8), torch.randn(6, 1)
    loss = F.mse_loss(head(layer(h)), target)
    opt.zero_grad()
    loss.backward()
    assert layer.router.weight.grad is not None
    assert layer.router.weight.grad.abs().sum() > 0
    assert layer.usage.sum() == 6
    opt.step()
