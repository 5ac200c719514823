"""A VAE whose latent is drawn by a helper with `posterior.sample()` from an `Independent(Normal)`: the reconstruction term sends no gradient to the encoder, which learns only from the KL.

Source: https://github.com/AntixK/PyTorch-VAE/issues/12
        https://github.com/nicola-decao/s-vae-pytorch/issues/9
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence


class VAE(nn.Module):
    def __init__(self, x_dim=8, z_dim=2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(x_dim, 16), nn.ReLU(), nn.Linear(16, 2 * z_dim))
        self.decoder = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, x_dim))
        self.z_dim = z_dim

    def posterior(self, x):
        loc, log_scale = self.encoder(x).chunk(2, dim=-1)
        return Independent(Normal(loc, log_scale.exp()), 1)


def draw_latent(q):
    return q.sample()  # BUG


def elbo_terms(vae, x):
    q = vae.posterior(x)
    z = draw_latent(q)
    recon = ((vae.decoder(z) - x) ** 2).sum(-1).mean()
    prior = Independent(Normal(torch.zeros_like(q.mean), torch.ones_like(q.mean)), 1)
    kl = kl_divergence(q, prior).mean()
    return recon, kl


if __name__ == "__main__":
    torch.manual_seed(0)
    vae = VAE()
    x = torch.randn(5, 8)
    recon, kl = elbo_terms(vae, x)
    grads = torch.autograd.grad(recon, list(vae.encoder.parameters()), allow_unused=True)
    assert all(g is None for g in grads)
    dec = torch.autograd.grad(recon, list(vae.decoder.parameters()), retain_graph=True)
    assert all(g.abs().sum() > 0 for g in dec)
