"""Learned feature gate with a RelaxedBernoulli (concrete) rsample: the gate logits train.

Source: https://github.com/YongfeiYan/Gumbel_Softmax_VAE/issues/5
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import RelaxedBernoulli


class Gate(nn.Module):
    def __init__(self, d, temperature=0.5):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(d))
        self.temperature = torch.tensor(temperature)

    def forward(self, h):
        if not self.training:
            return h * (self.logits > 0).float()
        mask = RelaxedBernoulli(self.temperature, logits=self.logits.expand_as(h)).rsample()
        return h * mask


if __name__ == "__main__":
    torch.manual_seed(0)
    gate = Gate(5)
    head = nn.Linear(5, 1)
    opt = torch.optim.Adam(list(gate.parameters()) + list(head.parameters()), lr=1e-2)
    x, y = torch.randn(12, 5), torch.randn(12, 1)
    loss = F.mse_loss(head(gate(x)), y) + 1e-3 * torch.sigmoid(gate.logits).sum()
    opt.zero_grad()
    loss.backward()
    assert gate.logits.grad.abs().sum() > 0
    opt.step()
    gate.eval()
    with torch.no_grad():
        head(gate(x))
