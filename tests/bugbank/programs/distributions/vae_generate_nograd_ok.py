"""VAE trained with q(z|x).rsample(); generation draws prior samples and Bernoulli pixels under no_grad only for viewing.

Source: https://github.com/ARISE-Initiative/robomimic/issues/204
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.distributions as D


class VAE(nn.Module):
    def __init__(self, x_dim=12, z_dim=3):
        super().__init__()
        self.z_dim = z_dim
        self.enc = nn.Linear(x_dim, 2 * z_dim)
        self.dec = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, x_dim))

    def posterior(self, x):
        loc, raw = self.enc(x).chunk(2, dim=-1)
        return D.Normal(loc, F.softplus(raw) + 1e-4)

    def forward(self, x):
        q = self.posterior(x)
        z = q.rsample()
        logits = self.dec(z)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        prior = D.Normal(torch.zeros_like(z), torch.ones_like(z))
        kl = D.kl_divergence(q, prior).sum(-1).mean()
        return recon, kl

    @torch.no_grad()
    def generate(self, n):
        z = D.Normal(0.0, 1.0).sample((n, self.z_dim))
        return D.Bernoulli(logits=self.dec(z)).sample()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(8, 12) > 0.5).float()
    recon, kl = model(x)
    g = torch.autograd.grad(recon, model.enc.weight, retain_graph=True)[0]
    assert g.abs().sum() > 0  # the reconstruction term reaches the encoder through rsample
    opt.zero_grad()
    (recon + kl).backward()
    opt.step()
    model.eval()
    images = model.generate(4)
    assert images.shape == (4, 12) and not images.requires_grad
