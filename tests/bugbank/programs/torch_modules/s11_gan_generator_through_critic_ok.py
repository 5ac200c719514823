"""A 1-D GAN script with d_step/g_step helpers: the generator step backpropagates through the discriminator without detaching and steps only the generator's optimizer; the discriminator's own step clears those gradients first and uses fake.detach(). Both networks train.

Source: https://github.com/devnag/pytorch-generative-adversarial-networks/issues/14
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(2, 8), nn.ELU(), nn.Linear(8, 1))
D = nn.Sequential(nn.Linear(1, 8), nn.ELU(), nn.Linear(8, 1), nn.Sigmoid())
bce = nn.BCELoss()
d_optimizer = torch.optim.SGD(D.parameters(), lr=0.05, momentum=0.9)
g_optimizer = torch.optim.SGD(G.parameters(), lr=0.05, momentum=0.9)


def real_batch(n=8):
    return torch.randn(n, 1) * 1.25 + 4.0


def d_step():
    D.zero_grad()
    real = real_batch()
    d_real_error = bce(D(real), torch.ones(real.shape[0], 1))
    d_real_error.backward()
    fake = G(torch.rand(8, 2)).detach()
    d_fake_error = bce(D(fake), torch.zeros(8, 1))
    d_fake_error.backward()
    d_optimizer.step()


def g_step():
    G.zero_grad()
    fake = G(torch.rand(8, 2))
    g_error = bce(D(fake), torch.ones(8, 1))  # fooling D: gradients flow through D into G
    g_error.backward()
    g_optimizer.step()  # only G moves here


g_before = G[0].weight.detach().clone()
d_before = D[0].weight.detach().clone()
d_step()
d_after_d = D[0].weight.detach().clone()
g_step()
assert torch.equal(d_after_d, D[0].weight)  # the generator step leaves D alone
assert G[0].weight.grad.abs().sum() > 0
assert not torch.equal(g_before, G[0].weight)
assert not torch.equal(d_before, d_after_d)
