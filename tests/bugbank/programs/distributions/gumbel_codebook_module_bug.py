"""Discrete-code autoencoder whose quantizer module draws the relaxed one-hot code with .sample(): the reconstruction loss never reaches the encoder.

Source: https://github.com/pytorch/pytorch/pull/5056
        https://github.com/jankrepl/deepdow/pull/106
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import RelaxedOneHotCategorical


class GumbelQuantizer(nn.Module):
    def __init__(self, n_codes, code_dim, temperature=0.7):
        super().__init__()
        self.codebook = nn.Embedding(n_codes, code_dim)
        self.register_buffer("temperature", torch.tensor(temperature))

    def forward(self, logits):
        posterior = RelaxedOneHotCategorical(self.temperature, logits=logits)
        soft_code = posterior.sample()  # BUG
        return soft_code @ self.codebook.weight, posterior


class DiscreteAE(nn.Module):
    def __init__(self, in_dim=8, n_codes=6, code_dim=4):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(in_dim, 16), nn.Tanh(), nn.Linear(16, n_codes))
        self.quantizer = GumbelQuantizer(n_codes, code_dim)
        self.decoder = nn.Linear(code_dim, in_dim)

    def forward(self, x):
        z, posterior = self.quantizer(self.encoder(x))
        return self.decoder(z), posterior


def losses(model, x):
    recon, posterior = model(x)
    probs = posterior.probs
    n_codes = probs.shape[-1]
    kl_uniform = (probs * (probs.clamp_min(1e-8).log() + torch.log(torch.tensor(float(n_codes))))).sum(-1).mean()
    return F.mse_loss(recon, x), kl_uniform


if __name__ == "__main__":
    torch.manual_seed(0)
    model = DiscreteAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(32, 8)
    for _ in range(2):
        rec, kl = losses(model, x)
        opt.zero_grad()
        (rec + 0.01 * kl).backward()
        opt.step()
    # the reconstruction term alone gives the encoder nothing: only the KL reaches it
    rec, kl = losses(model, x)
    enc_w = model.encoder[2].weight
    (g_rec,) = torch.autograd.grad(rec, [enc_w], allow_unused=True)
    assert g_rec is None
    assert model.decoder.weight.grad is not None
