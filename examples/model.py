"""A small VAE with the gradient bugs gradscan finds. Run: gradscan examples/"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal


class Encoder(nn.Module):
    def __init__(self, dim, latent):
        super().__init__()
        self.hidden = nn.Linear(dim, 64)
        self.mu = nn.Linear(64, latent)
        self.log_sigma = nn.Linear(64, latent)
        self.temperature = torch.ones(1, requires_grad=True)  # never in model.parameters()

    def forward(self, x):
        h = F.relu(self.hidden(x)).detach()  # hidden never learns
        return Normal(self.mu(h), self.log_sigma(h).exp() / self.temperature)


class VAE(nn.Module):
    def __init__(self, dim=784, latent=16):
        super().__init__()
        self.encoder = Encoder(dim, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, 64), nn.ReLU(), nn.Linear(64, dim))

    def forward(self, x):
        posterior = self.encoder(x)
        z = posterior.sample()  # no gradient reaches the encoder: use rsample()
        return self.decoder(z), posterior


def train_step(model, optimizer, x):
    recon, posterior = model(x)
    prior = Normal(torch.zeros_like(posterior.mean), torch.ones_like(posterior.stddev))
    loss = F.mse_loss(recon, x) + torch.distributions.kl_divergence(posterior, prior).sum(-1).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
