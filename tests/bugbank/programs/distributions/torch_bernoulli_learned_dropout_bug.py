"""Learned dropout rates drawn with torch.bernoulli(keep_prob): the rate logits receive an all-zero gradient.

Source: https://github.com/pytorch/pytorch/issues/4620
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class LearnedDropout(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.rate_logits = nn.Parameter(torch.zeros(d))

    def forward(self, h):
        keep = torch.sigmoid(self.rate_logits).expand_as(h)
        mask = torch.bernoulli(keep)  # BUG
        return h * mask


model = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), LearnedDropout(6), nn.Linear(6, 2))

if __name__ == "__main__":
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(10, 6), torch.randint(0, 2, (10,))
    for _ in range(2):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    drop = model[2]
    assert torch.count_nonzero(drop.rate_logits.grad) == 0
    assert torch.equal(drop.rate_logits.detach(), torch.zeros(6))
