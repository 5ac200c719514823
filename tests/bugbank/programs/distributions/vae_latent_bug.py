"""Small VAE whose encoder draws z with Normal(...).sample(): the reconstruction term never reaches the encoder.

Source: https://github.com/nicola-decao/s-vae-pytorch/issues/9
        https://github.com/jankrepl/deepdow/pull/106
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence


class VAE(nn.Module):
    def __init__(self, d_in=8, d_z=2):
        super().__init__()
        self.enc = nn.Linear(d_in, 2 * d_z)
        self.dec = nn.Linear(d_z, d_in)

    def forward(self, x):
        mu, log_std = self.enc(x).chunk(2, dim=-1)
        q = Normal(mu, log_std.exp())
        z = q.sample()  # BUG
        return self.dec(z), q


def elbo_parts(model, x):
    recon, q = model(x)
    rec = F.mse_loss(recon, x, reduction="sum")
    kl = kl_divergence(q, Normal(torch.zeros_like(q.loc), torch.ones_like(q.scale))).sum()
    return rec, kl


if __name__ == "__main__":
    torch.manual_seed(0)
    model = VAE()
    x = torch.randn(5, 8)
    rec, kl = elbo_parts(model, x)
    g_rec = torch.autograd.grad(rec, model.enc.weight, allow_unused=True)[0]
    assert g_rec is None  # the reconstruction loss does not reach the encoder at all
    (rec + kl).backward()
    assert model.dec.weight.grad.abs().sum() > 0
