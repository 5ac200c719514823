"""A VAE encoder module returns Independent(Normal(mu, sigma), 1).sample() as its code: only the KL term reaches the encoder, the reconstruction never does.

Source: https://jshn9515.github.io/deep-learning-notes/en/ch13-autoencoders-and-vaes/ch13.2-variational-autoencoder.html
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import distributions as D


class GaussianEncoder(nn.Module):
    def __init__(self, d_in=8, d_z=2):
        super().__init__()
        self.hidden = nn.Linear(d_in, 16)
        self.mu = nn.Linear(16, d_z)
        self.log_sigma = nn.Linear(16, d_z)

    def forward(self, x):
        h = torch.relu(self.hidden(x))
        posterior = D.Independent(D.Normal(self.mu(h), self.log_sigma(h).exp()), 1)
        return posterior.sample(), posterior  # BUG


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = GaussianEncoder()
        self.decoder = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 8))

    def forward(self, x):
        z, posterior = self.encoder(x)
        return self.decoder(z), posterior


def elbo_terms(model, x):
    recon, posterior = model(x)
    prior = D.Independent(D.Normal(torch.zeros(2), torch.ones(2)), 1)
    rec = F.mse_loss(recon, x, reduction="sum") / x.shape[0]
    kl = D.kl_divergence(posterior, prior).mean()
    return rec, kl


if __name__ == "__main__":
    torch.manual_seed(0)
    model = VAE()
    x = torch.randn(6, 8)
    rec, kl = elbo_terms(model, x)
    # the reconstruction alone gives the encoder no gradient at all
    rec_grads = torch.autograd.grad(rec, list(model.encoder.parameters()), allow_unused=True)
    assert all(g is None for g in rec_grads)
    assert all(g is not None for g in torch.autograd.grad(kl, [model.encoder.mu.weight]))
