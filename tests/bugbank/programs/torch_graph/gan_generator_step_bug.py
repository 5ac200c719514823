"""A GAN's generator step scores D(fake.detach()), so the generator loss never reaches the generator.

Source: https://airoads.org/ch06-deep-learning/ch06-generative/01-gan/
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn

torch.manual_seed(7)
G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
D = nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1))
bce = nn.BCEWithLogitsLoss()
opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
g_start = G[0].weight.clone()

for step in range(2):
    real = torch.randn(16, 1) * 0.2 + 2.0
    fake = G(torch.randn(16, 2))

    d_real, d_fake = D(real), D(fake.detach())
    loss_d = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()

    score = D(fake.detach())  # BUG
    loss_g = bce(score, torch.ones_like(score))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()

assert G[0].weight.grad is None
assert torch.equal(g_start, G[0].weight)
