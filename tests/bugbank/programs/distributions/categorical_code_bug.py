"""Discrete-latent autoencoder that picks a codebook row with Categorical(logits).sample(): the encoder never learns.

Source: https://github.com/jax-ml/jax/issues/17556
        https://github.com/juliusfrost/dreamer-pytorch/pull/41
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical


class DiscreteAE(nn.Module):
    def __init__(self, d=6, k=4):
        super().__init__()
        self.encoder = nn.Linear(d, k)
        self.codebook = nn.Embedding(k, 8)
        self.decoder = nn.Linear(8, d)

    def forward(self, x):
        code = Categorical(logits=self.encoder(x)).sample()  # BUG
        return self.decoder(self.codebook(code))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = DiscreteAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(10, 6)
    loss = F.mse_loss(model(x), x)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert model.encoder.weight.grad is None
    assert model.codebook.weight.grad is not None and model.decoder.weight.grad.abs().sum() > 0
