"""A VAE whose latent is drawn by a helper with `posterior.rsample()` from an `Independent(Normal)`; prior samples for a preview grid use `.sample()` under no_grad; the encoder learns from the reconstruction.

Source: https://github.com/AntixK/PyTorch-VAE/issues/12
        https://github.com/nicola-decao/s-vae-pytorch/issues/9
Label: clean
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

    def prior(self, n):
        return Independent(Normal(torch.zeros(n, self.z_dim), torch.ones(n, self.z_dim)), 1)


def draw_latent(q):
    return q.rsample()


def elbo_terms(vae, x):
    q = vae.posterior(x)
    z = draw_latent(q)
    recon = ((vae.decoder(z) - x) ** 2).sum(-1).mean()
    kl = kl_divergence(q, vae.prior(x.shape[0])).mean()
    return recon, kl


@torch.no_grad()
def preview(vae, n=4):
    return vae.decoder(vae.prior(n).sample())


if __name__ == "__main__":
    torch.manual_seed(0)
    vae = VAE()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
    x = torch.randn(5, 8)
    recon, kl = elbo_terms(vae, x)
    grads = torch.autograd.grad(recon, list(vae.encoder.parameters()), retain_graph=True)
    assert all(g.abs().sum() > 0 for g in grads)
    opt.zero_grad()
    (recon + kl).backward()
    opt.step()
    assert preview(vae).shape == (4, 8)
