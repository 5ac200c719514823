"""A GAN trainer class clears the discriminator's optimizer and backpropagates its loss but never calls its step(): the discriminator keeps its initial weights while the generator trains against it.

Source: https://github.com/zhaoyuzhi/deepfillv2/issues/6
        https://github.com/tedlasai/learn2refocus/issues/5
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class GanTrainer:
    def __init__(self, z_dim=4, x_dim=6):
        self.G = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, x_dim))
        self.D = nn.Sequential(nn.Linear(x_dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-3)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-3)  # BUG
        self.z_dim = z_dim

    def update_discriminator(self, real):
        z = torch.randn(real.shape[0], self.z_dim)
        fake = self.G(z).detach()
        self.opt_d.zero_grad()
        logits_real, logits_fake = self.D(real), self.D(fake)
        loss_d = F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real)) + \
            F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake))
        loss_d.backward()  # BUG
        return loss_d.item()

    def update_generator(self, batch_size):
        self.opt_g.zero_grad()
        logits = self.D(self.G(torch.randn(batch_size, self.z_dim)))
        loss_g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        loss_g.backward()
        self.opt_g.step()
        return loss_g.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    trainer = GanTrainer()
    d0 = [p.detach().clone() for p in trainer.D.parameters()]
    g0 = trainer.G[0].weight.detach().clone()
    for _ in range(3):
        trainer.update_discriminator(torch.randn(8, 6) + 2.0)
        trainer.update_generator(8)
    assert trainer.D[0].weight.grad is not None and trainer.D[0].weight.grad.abs().sum() > 0
    assert all(torch.equal(a, p) for a, p in zip(d0, trainer.D.parameters()))
    assert not torch.equal(g0, trainer.G[0].weight)
