"""A VQ-VAE quantizer copies decoder gradients to the encoder with `z + (q - z).detach()` plus a commitment term.

Source: https://github.com/zalandoresearch/pytorch-vq-vae/issues/6
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class VectorQuantizer(nn.Module):
    def __init__(self, n_codes=16, dim=4, beta=0.25):
        super().__init__()
        self.embedding = nn.Embedding(n_codes, dim)
        self.beta = beta

    def forward(self, z):
        idx = torch.cdist(z, self.embedding.weight).argmin(dim=1)
        quantized = self.embedding(idx)
        loss = F.mse_loss(quantized, z.detach()) + self.beta * F.mse_loss(z, quantized.detach())
        quantized = z + (quantized - z).detach()
        return quantized, loss


class VQVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(8, 4)
        self.vq = VectorQuantizer()
        self.decoder = nn.Linear(4, 8)

    def forward(self, x):
        q, vq_loss = self.vq(self.encoder(x))
        return self.decoder(q), vq_loss


torch.manual_seed(0)
model = VQVAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(12, 8)
recon, vq_loss = model(x)
loss = F.mse_loss(recon, x) + vq_loss
opt.zero_grad()
loss.backward()
opt.step()

assert model.encoder.weight.grad is not None and model.encoder.weight.grad.abs().sum() > 0
assert model.vq.embedding.weight.grad is not None
