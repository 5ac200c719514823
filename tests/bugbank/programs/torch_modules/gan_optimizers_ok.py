"""A GAN training step: the discriminator sees fake.detach() and is stepped by its own optimizer, the generator step goes through D with D's gradients cleared before D's next update; both networks learn.

Source: https://github.com/Lornatang/ESRGAN-PyTorch/issues/39
        https://github.com/devnag/pytorch-generative-adversarial-networks/issues/14
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
g_optimizer = torch.optim.Adam(G.parameters(), lr=1e-3)
d_optimizer = torch.optim.Adam(D.parameters(), lr=1e-3)
bce = F.binary_cross_entropy_with_logits
d_start = [p.detach().clone() for p in D.parameters()]
g_start = [p.detach().clone() for p in G.parameters()]

for it in range(3):
    real = torch.randn(16, 2) * 0.5 + 2.0
    z = torch.randn(16, 2)
    ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)

    # discriminator: the fake batch is a constant here
    d_optimizer.zero_grad()
    fake = G(z)
    d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
    d_loss.backward()
    d_optimizer.step()

    # generator
    g_optimizer.zero_grad()
    g_loss = bce(D(fake), ones)
    g_loss.backward()
    g_optimizer.step()

assert all(not torch.equal(a, p) for a, p in zip(d_start, D.parameters()))
assert all(not torch.equal(a, p) for a, p in zip(g_start, G.parameters()))
