"""A contrastive head divides by a learnable temperature only in training mode (the branch the training loop runs) and logs it too: the temperature gets its gradient.

Source: https://github.com/state-spaces/s4/issues/26
Label: clean
Family: params
Frameworks: torch
"""
import logging

import torch
import torch.nn as nn
import torch.nn.functional as F

log = logging.getLogger(__name__)


class ContrastiveHead(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.proj = nn.Linear(d, d)
        self.log_tau = nn.Parameter(torch.tensor(-2.66))

    def forward(self, a, b):
        za = F.normalize(self.proj(a), dim=-1)
        zb = F.normalize(self.proj(b), dim=-1)
        log.debug("tau=%.4f", self.log_tau.exp().item())
        sim = za @ zb.t()
        if self.training:
            return sim / self.log_tau.exp()
        return sim


def info_nce(logits):
    target = torch.arange(logits.shape[0])
    return F.cross_entropy(logits, target)


if __name__ == "__main__":
    torch.manual_seed(0)
    head = ContrastiveHead(6)
    head.train()
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    a = torch.randn(8, 6)
    b = a + 0.1 * torch.randn(8, 6)
    for _ in range(3):
        opt.zero_grad()
        info_nce(head(a, b)).backward()
        opt.step()
    assert head.log_tau.grad is not None and head.log_tau.grad.abs() > 0
    assert head.log_tau.item() != torch.tensor(-2.66).item()
