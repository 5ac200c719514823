"""VQ-VAE with an EMA codebook: nearest codes by argmin, codebook moved under no_grad, commitment loss and straight-through output.

Source: https://github.com/lucidrains/vector-quantize-pytorch/issues/40
        https://github.com/rosinality/vq-vae-2-pytorch/issues/3
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class EMAQuantizer(nn.Module):
    def __init__(self, num_codes=8, dim=4, decay=0.9, eps=1e-5):
        super().__init__()
        self.decay, self.eps = decay, eps
        embed = torch.randn(num_codes, dim)
        self.register_buffer("embed", embed)
        self.register_buffer("cluster_size", torch.zeros(num_codes))
        self.register_buffer("embed_avg", embed.clone())

    def forward(self, z_e):
        dist = torch.cdist(z_e, self.embed)
        codes = dist.argmin(dim=1)
        z_q = self.embed[codes]
        if self.training:
            with torch.no_grad():
                onehot = F.one_hot(codes, self.embed.size(0)).type(z_e.dtype)
                self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
                self.embed_avg.mul_(self.decay).add_(onehot.t() @ z_e, alpha=1 - self.decay)
                n = self.cluster_size.sum()
                size = (self.cluster_size + self.eps) / (n + self.embed.size(0) * self.eps) * n
                self.embed.copy_(self.embed_avg / size.unsqueeze(1))
        commitment = F.mse_loss(z_e, z_q.detach())
        z_st = z_e + (z_q - z_e).detach()
        return z_st, commitment, codes


class VQVAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4))
        self.quantizer = EMAQuantizer()
        self.decoder = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 10))

    def forward(self, x):
        z_q, commitment, codes = self.quantizer(self.encoder(x))
        return self.decoder(z_q), commitment, codes


torch.manual_seed(0)
model = VQVAE()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn(16, 10)
enc_start = model.encoder[0].weight.detach().clone()
for step in range(2):
    recon, commitment, codes = model(x)
    loss = F.mse_loss(recon, x) + 0.25 * commitment
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    usage = torch.bincount(codes, minlength=8).float().div(len(codes)).cpu().numpy()

assert model.encoder[0].weight.grad is not None and model.encoder[0].weight.grad.abs().sum() > 0
assert model.decoder[0].weight.grad.abs().sum() > 0
assert not torch.equal(enc_start, model.encoder[0].weight)
