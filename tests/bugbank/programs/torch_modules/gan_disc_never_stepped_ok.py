"""A GAN trainer whose discriminator optimizer is stepped through the AMP-style GradScaler (`scaler.step(opt_d)`) and whose generator optimizer is stepped by a shared helper: both networks train.

Source: https://github.com/zhaoyuzhi/deepfillv2/issues/6
Label: clean
Family: loop
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


def apply(optimizer, loss):
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


class GanTrainer:
    def __init__(self, z_dim=4, x_dim=6):
        self.G = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, x_dim))
        self.D = nn.Sequential(nn.Linear(x_dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-3)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-3)
        self.scaler = torch.amp.GradScaler("cpu", enabled=False)
        self.z_dim = z_dim

    def update_discriminator(self, real):
        fake = self.G(torch.randn(real.shape[0], self.z_dim)).detach()
        self.opt_d.zero_grad()
        lr_, lf = self.D(real), self.D(fake)
        loss_d = F.binary_cross_entropy_with_logits(lr_, torch.ones_like(lr_)) + \
            F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)
        self.scaler.update()

    def update_generator(self, batch_size):
        logits = self.D(self.G(torch.randn(batch_size, self.z_dim)))
        apply(self.opt_g, F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)))


if __name__ == "__main__":
    torch.manual_seed(0)
    trainer = GanTrainer()
    d0 = trainer.D[0].weight.detach().clone()
    g0 = trainer.G[0].weight.detach().clone()
    for _ in range(3):
        trainer.update_discriminator(torch.randn(8, 6) + 2.0)
        trainer.update_generator(8)
    assert trainer.D[0].weight.grad.abs().sum() > 0
    assert not torch.equal(d0, trainer.D[0].weight)
    assert not torch.equal(g0, trainer.G[0].weight)
