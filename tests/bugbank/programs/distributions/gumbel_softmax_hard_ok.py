"""Categorical VAE-style encoder using F.gumbel_softmax(hard=True): one-hot forward, straight-through gradient.

Source: https://github.com/YongfeiYan/Gumbel_Softmax_VAE/issues/5
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class GumbelAE(nn.Module):
    def __init__(self, d=6, k=5, tau=0.7):
        super().__init__()
        self.tau = tau
        self.enc = nn.Linear(d, k)
        self.dec = nn.Linear(k, d)

    def forward(self, x):
        logits = self.enc(x)
        y = F.gumbel_softmax(logits, tau=self.tau, hard=True)
        return self.dec(y), logits


def train_step(model, opt, x):
    recon, logits = model(x)
    q = F.softmax(logits, dim=-1)
    kl = (q * (q.clamp_min(1e-8).log() + torch.log(torch.tensor(5.0)))).sum(-1).mean()
    loss = F.mse_loss(recon, x) + 0.1 * kl
    opt.zero_grad()
    loss.backward()
    grad = model.enc.weight.grad.clone()
    opt.step()
    return grad


if __name__ == "__main__":
    torch.manual_seed(0)
    model = GumbelAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(8, 6)
    recon_only = F.mse_loss(model(x)[0], x)
    g = torch.autograd.grad(recon_only, model.enc.weight)[0]
    assert g.abs().sum() > 0  # the reconstruction itself reaches the encoder
    assert train_step(model, opt, x).abs().sum() > 0
