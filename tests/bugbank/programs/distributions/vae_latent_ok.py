"""Small VAE trained with the reparameterised rsample(); a sample() under no_grad only generates previews.

Source: https://github.com/nicola-decao/s-vae-pytorch/issues/9
Label: clean
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
        self.d_z = d_z
        self.enc = nn.Linear(d_in, 2 * d_z)
        self.dec = nn.Linear(d_z, d_in)

    def forward(self, x):
        mu, log_std = self.enc(x).chunk(2, dim=-1)
        q = Normal(mu, log_std.exp())
        return self.dec(q.rsample()), q

    @torch.no_grad()
    def generate(self, n):
        prior = Normal(torch.zeros(n, self.d_z), torch.ones(n, self.d_z))
        return self.dec(prior.sample())


if __name__ == "__main__":
    torch.manual_seed(0)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(5, 8)
    recon, q = model(x)
    rec = F.mse_loss(recon, x, reduction="sum")
    g_rec = torch.autograd.grad(rec, model.enc.weight, retain_graph=True)[0]
    assert g_rec.abs().sum() > 0
    kl = kl_divergence(q, Normal(0.0, 1.0)).sum()
    opt.zero_grad()
    (rec + kl).backward()
    opt.step()
    previews = model.generate(3)
    assert previews.shape == (3, 8) and not previews.requires_grad
