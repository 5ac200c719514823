"""A small VAE trained with gradient accumulation in a helper function: optimizer.zero_grad() sits after the `if` that steps every N batches, so it runs on every batch and each step sees only the last micro-batch's gradient.

Source: https://github.com/gaozhihan/PreDiff/issues/32
Label: buggy
Family: loop
Frameworks: torch
"""
import copy

import torch
import torch.nn.functional as F
from torch import nn


class TinyVAE(nn.Module):
    def __init__(self, dim=6, latent=2):
        super().__init__()
        self.enc = nn.Linear(dim, 2 * latent)
        self.dec = nn.Linear(latent, dim)

    def forward(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.dec(z), mu, logvar


def vae_losses(model, x):
    recon, mu, logvar = model(x)
    return {
        "rec": F.mse_loss(recon, x),
        "kl": -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp()),
    }


def train_one_epoch(model, batches, optimizer, accum_steps):
    seen = []
    for step, x in enumerate(batches):
        losses = vae_losses(model, x)
        total = sum(losses.values()) / accum_steps
        total.backward()
        if (step + 1) % accum_steps == 0:
            seen.append(model.dec.weight.grad.clone())
            optimizer.step()
        optimizer.zero_grad()  # BUG
    return seen


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TinyVAE()
    start = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [torch.randn(4, 6) for _ in range(4)]

    torch.manual_seed(1)
    seen = train_one_epoch(model, batches, opt, accum_steps=4)

    # replay the same noise on the starting weights, one micro-batch at a time
    torch.manual_seed(1)
    per_batch = []
    for x in batches:
        start.zero_grad()
        (sum(vae_losses(start, x).values()) / 4).backward()
        per_batch.append(start.dec.weight.grad.clone())
    assert torch.allclose(seen[0], per_batch[-1], atol=1e-6)  # only the last micro-batch survived
    assert not torch.allclose(seen[0], sum(per_batch), atol=1e-4)
