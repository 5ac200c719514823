"""A GAN alternates a discriminator step on fake.detach() and a generator step during which the discriminator is frozen with requires_grad_(False); each network has its own optimizer and both train.

Source: https://github.com/Lightning-AI/pytorch-lightning/issues/18740
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn

Z = 4


def set_trainable(module, flag):
    for p in module.parameters():
        p.requires_grad_(flag)


def gan_round(gen, disc, opt_g, opt_d, real, bce):
    n = real.size(0)
    ones, zeros = torch.ones(n, 1), torch.zeros(n, 1)
    fake = gen(torch.randn(n, Z))

    set_trainable(disc, True)
    opt_d.zero_grad()
    d_loss = bce(disc(real), ones) + bce(disc(fake.detach()), zeros)
    d_loss.backward()
    opt_d.step()

    set_trainable(disc, False)  # the generator step must not touch D
    opt_g.zero_grad()
    g_loss = bce(disc(fake), ones)
    g_loss.backward()
    opt_g.step()
    set_trainable(disc, True)
    return d_loss.item(), g_loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    gen = nn.Sequential(nn.Linear(Z, 8), nn.ReLU(), nn.Linear(8, 2))
    disc = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-2, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-2, betas=(0.5, 0.999))
    g0, d0 = gen[0].weight.detach().clone(), disc[0].weight.detach().clone()
    for _ in range(2):
        gan_round(gen, disc, opt_g, opt_d, torch.randn(6, 2) + 3.0, nn.BCEWithLogitsLoss())
    assert gen[0].weight.grad is not None and gen[0].weight.grad.abs().sum() > 0
    assert not torch.equal(g0, gen[0].weight)
    assert not torch.equal(d0, disc[0].weight)
