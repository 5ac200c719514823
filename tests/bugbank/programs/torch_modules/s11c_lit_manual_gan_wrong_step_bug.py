"""A LightningModule GAN under manual optimization backpropagates the generator loss but steps the discriminator's optimizer in the generator phase: the generator never moves.

Source: https://github.com/Lightning-AI/pytorch-lightning/pull/6294
Label: buggy
Family: loop
Frameworks: torch, lightning
"""
import torch
from torch import nn
import lightning as L
from torch.utils.data import DataLoader, TensorDataset


def bce(logits, value):
    return nn.functional.binary_cross_entropy_with_logits(logits, torch.full_like(logits, value))


class SketchGAN(L.LightningModule):
    def __init__(self, z_dim=4, x_dim=6):
        super().__init__()
        self.automatic_optimization = False
        self.z_dim = z_dim
        self.gen = nn.Sequential(nn.Linear(z_dim, 16), nn.Tanh(), nn.Linear(16, x_dim))
        self.disc = nn.Sequential(nn.Linear(x_dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def discriminator_phase(self, real, fake, opt_d):
        loss = bce(self.disc(real), 1.0) + bce(self.disc(fake.detach()), 0.0)
        opt_d.zero_grad()
        self.manual_backward(loss)
        opt_d.step()
        return loss

    def generator_phase(self, fake, opt_g, opt_d):
        loss = bce(self.disc(fake), 1.0)
        opt_g.zero_grad()
        self.manual_backward(loss)
        opt_d.step()  # BUG
        return loss

    def training_step(self, batch, batch_idx):
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        fake = self.gen(torch.randn(real.size(0), self.z_dim))
        self.discriminator_phase(real, fake, opt_d)
        self.generator_phase(fake, opt_g, opt_d)

    def configure_optimizers(self):
        return (torch.optim.Adam(self.gen.parameters(), lr=1e-2),
                torch.optim.Adam(self.disc.parameters(), lr=1e-2))


if __name__ == "__main__":
    torch.manual_seed(0)
    gan = SketchGAN()
    g0 = [p.detach().clone() for p in gan.gen.parameters()]
    data = DataLoader(TensorDataset(torch.randn(16, 6)), batch_size=8)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(gan, data)
    assert all(torch.equal(a, b) for a, b in zip(g0, gan.gen.parameters()))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gan.gen.parameters())
