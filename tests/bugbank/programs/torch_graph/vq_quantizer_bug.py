"""A VQ-VAE quantizer returns the argmin codebook rows with no straight-through path, so the encoder never trains.

Source: https://github.com/zalandoresearch/pytorch-vq-vae/issues/6
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class VectorQuantizer(nn.Module):
    def __init__(self, n_codes=16, dim=4):
        super().__init__()
        self.embedding = nn.Embedding(n_codes, dim)

    def forward(self, z):
        idx = torch.cdist(z, self.embedding.weight).argmin(dim=1)  # BUG
        quantized = self.embedding(idx)  # BUG
        codebook_loss = F.mse_loss(quantized, z.detach())
        return quantized, codebook_loss  # BUG


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

assert model.encoder.weight.grad is None
assert model.decoder.weight.grad is not None
assert model.vq.embedding.weight.grad is not None
