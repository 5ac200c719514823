"""WGAN-GP critic step: the gradient penalty is taken with autograd.grad without create_graph, so it never trains the critic.

Source: https://github.com/igul222/improved_wgan_training/issues/18
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)

critic = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
generator = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 4))
opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))


def gradient_penalty(net, real, fake):
    alpha = torch.rand(real.size(0), 1)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = net(mixed)
    grads = torch.autograd.grad(outputs=scores.sum(), inputs=mixed)[0]  # BUG
    return ((grads.norm(2, dim=1) - 1) ** 2).mean()


def critic_step(real, lam=10.0):
    z = torch.randn(real.size(0), 2)
    fake = generator(z).detach()
    wasserstein = critic(fake).mean() - critic(real).mean()
    gp = gradient_penalty(critic, real, fake)
    loss = wasserstein + lam * gp
    opt_c.zero_grad()
    loss.backward()
    return wasserstein, gp


real = torch.randn(8, 4) * 2.0 + 1.0
w, gp = critic_step(real)

# The penalty is a constant: it adds nothing to the critic's gradient.
assert gp.item() > 0.0
assert not gp.requires_grad and gp.grad_fn is None
assert all(p.grad is not None for p in critic.parameters())
