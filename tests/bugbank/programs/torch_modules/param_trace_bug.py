"""A scorer declares a learnable margin, records it every step with `.item()` for a plot, but computes the hinge with the constructor's number: the margin's gradient is None and it never moves.

Source: https://github.com/pytorch/pytorch/issues/10817
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn


class HingeScorer(nn.Module):
    def __init__(self, dim, margin=1.0):
        super().__init__()
        self.proj = nn.Linear(dim, dim)
        self.init_margin = margin
        self.margin = nn.Parameter(torch.tensor(margin))  # BUG
        self.margin_trace = []

    def forward(self, anchor, pos, neg):
        self.margin_trace.append(self.margin.item())
        a, p, n = self.proj(anchor), self.proj(pos), self.proj(neg)
        d_pos = (a - p).pow(2).sum(-1)
        d_neg = (a - n).pow(2).sum(-1)
        return torch.relu(d_pos - d_neg + self.init_margin).mean()  # BUG


if __name__ == "__main__":
    torch.manual_seed(0)
    scorer = HingeScorer(4)
    opt = torch.optim.Adam(scorer.parameters(), lr=0.05)
    for _ in range(3):
        a, p, n = torch.randn(3, 8, 4).unbind(0)
        opt.zero_grad()
        scorer(a, p, n).backward()
        opt.step()
    assert scorer.margin.grad is None
    assert scorer.margin.item() == 1.0
    assert scorer.proj.weight.grad is not None
