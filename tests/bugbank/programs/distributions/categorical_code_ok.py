"""Discrete-latent autoencoder with a straight-through one-hot sample: hard code forward, softmax gradient backward.

Source: https://github.com/juliusfrost/dreamer-pytorch/pull/41
        https://github.com/danijar/dreamerv2/issues/37
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import OneHotCategorical


class DiscreteAE(nn.Module):
    def __init__(self, d=6, k=4):
        super().__init__()
        self.encoder = nn.Linear(d, k)
        self.codebook = nn.Linear(k, 8, bias=False)
        self.decoder = nn.Linear(8, d)

    def forward(self, x):
        logits = self.encoder(x)
        dist = OneHotCategorical(logits=logits)
        hard = dist.sample()
        probs = dist.probs
        code = hard + probs - probs.detach()
        return self.decoder(self.codebook(code))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = DiscreteAE()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(10, 6)
    loss = F.mse_loss(model(x), x)
    opt.zero_grad()
    loss.backward()
    assert model.encoder.weight.grad is not None and model.encoder.weight.grad.abs().sum() > 0
    opt.step()
