"""A contrastive head declares a learnable temperature but forward only logs it; the similarity uses a hard-coded 0.07, so the temperature's gradient is None and it never changes.

Source: https://github.com/state-spaces/s4/issues/26
Label: buggy
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
        self.log_tau = nn.Parameter(torch.tensor(-2.66))  # BUG

    def forward(self, a, b):
        za = F.normalize(self.proj(a), dim=-1)
        zb = F.normalize(self.proj(b), dim=-1)
        log.debug("tau=%.4f", self.log_tau.exp().item())
        return za @ zb.t() / 0.07  # BUG


def info_nce(logits):
    target = torch.arange(logits.shape[0])
    return F.cross_entropy(logits, target)


if __name__ == "__main__":
    torch.manual_seed(0)
    head = ContrastiveHead(6)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    a = torch.randn(8, 6)
    b = a + 0.1 * torch.randn(8, 6)
    for _ in range(3):
        opt.zero_grad()
        info_nce(head(a, b)).backward()
        opt.step()
    assert head.log_tau.grad is None
    assert head.log_tau.item() == torch.tensor(-2.66).item()
    assert head.proj.weight.grad is not None
