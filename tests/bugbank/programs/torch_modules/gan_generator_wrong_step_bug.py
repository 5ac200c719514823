"""A GAN loop backpropagates the generator loss but then steps the discriminator's optimizer: the generator never moves.

Source: https://pexcera.com/learn/advanced-dl/the-discriminator-and-generator-loop.html
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
D = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
bce = nn.BCEWithLogitsLoss()
g_start = G[0].weight.detach().clone()

for step in range(3):
    real = torch.randn(4, 3) + 2.0
    noise = torch.randn(4, 2)
    fake = G(noise)

    opt_d.zero_grad()
    d_loss = bce(D(real), torch.ones(4, 1)) + bce(D(fake.detach()), torch.zeros(4, 1))
    d_loss.backward()
    opt_d.step()

    opt_g.zero_grad()
    g_loss = bce(D(fake), torch.ones(4, 1))
    g_loss.backward()
    opt_d.step()  # BUG

assert G[0].weight.grad.abs().sum() > 0
assert torch.equal(G[0].weight, g_start)
