"""A tokenizer helper returns (straight-through latents, detached code vectors); the decoder uses the first.

Source: https://github.com/Biohub/esm/issues/92
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(6, 4)
        self.codebook = nn.Embedding(8, 4)

    def tokenize(self, x):
        z = self.proj(x)
        idx = torch.cdist(z, self.codebook.weight).argmin(dim=1)
        z_st = z + (self.codebook(idx) - z).detach()
        return z_st, self.codebook(idx).detach()


def run(encoder, decoder, batch, opt):
    latents, codes = encoder.tokenize(batch)
    recon = decoder(latents)
    # the detached codes are a logging statistic only
    usage = codes.abs().mean().item()
    loss = ((recon - batch) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item(), usage


torch.manual_seed(0)
enc, dec = Encoder(), nn.Linear(4, 6)
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
batch = torch.randn(10, 6)
run(enc, dec, batch, opt)

assert enc.proj.weight.grad is not None and enc.proj.weight.grad.abs().sum() > 0
