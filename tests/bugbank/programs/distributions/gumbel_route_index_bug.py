"""Discrete routing with straight-through Gumbel-softmax, but the one-hot is turned into an index with argmax before the lookup: the router gets no gradient.

Source: https://github.com/tiangexiang/CurveNet/issues/14
        https://github.com/pytorch/pytorch/pull/3341
Label: buggy
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

    def forward(self, h, tau=1.0):
        logits = self.router(h)
        onehot = F.gumbel_softmax(logits, tau=tau, hard=True)
        code = onehot.argmax(dim=-1)  # BUG
        return self.codebook(code)


if __name__ == "__main__":
    torch.manual_seed(0)
    layer = CodeRouter()
    head = nn.Linear(8, 1)
    opt = torch.optim.Adam(list(layer.parameters()) + list(head.parameters()), lr=1e-3)
    h, target = torch.randn(6, 8), torch.randn(6, 1)
    loss = F.mse_loss(head(layer(h)), target)
    opt.zero_grad()
    loss.backward()
    assert layer.router.weight.grad is None
    assert layer.codebook.weight.grad.abs().sum() > 0
    opt.step()
