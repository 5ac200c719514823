"""A LightningModule GAN under manual optimization: the discriminator step sees the generator's output detached, the generator step is toggled and stepped with its own optimizer; both networks train.

Source: https://github.com/Lightning-AI/pytorch-lightning/issues/18740
Label: clean
Family: loop
Frameworks: torch, lightning
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
import lightning as L
from torch.utils.data import DataLoader, TensorDataset


class TinyGAN(L.LightningModule):
    def __init__(self, latent=4, dim=6):
        super().__init__()
        self.automatic_optimization = False
        self.latent = latent
        self.generator = nn.Sequential(nn.Linear(latent, 16), nn.ReLU(), nn.Linear(16, dim))
        self.discriminator = nn.Sequential(nn.Linear(dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def adversarial(self, logits, real):
        target = torch.ones_like(logits) if real else torch.zeros_like(logits)
        return F.binary_cross_entropy_with_logits(logits, target)

    def training_step(self, batch, batch_idx):
        (real,) = batch
        opt_g, opt_d = self.optimizers()
        z = torch.randn(real.shape[0], self.latent)
        fake = self.generator(z)

        self.toggle_optimizer(opt_d)
        d_loss = self.adversarial(self.discriminator(real), True) + \
            self.adversarial(self.discriminator(fake.detach()), False)
        opt_d.zero_grad()
        self.manual_backward(d_loss)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        self.toggle_optimizer(opt_g)
        g_loss = self.adversarial(self.discriminator(fake), True)
        opt_g.zero_grad()
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        self.log_dict({"d_loss": d_loss.detach(), "g_loss": g_loss.detach()})

    def configure_optimizers(self):
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=1e-2)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=1e-2)
        return [opt_g, opt_d]


if __name__ == "__main__":
    torch.manual_seed(0)
    gan = TinyGAN()
    g0 = [p.detach().clone() for p in gan.generator.parameters()]
    d0 = [p.detach().clone() for p in gan.discriminator.parameters()]
    data = DataLoader(TensorDataset(torch.randn(16, 6)), batch_size=8)
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(gan, data)
    assert all(not torch.equal(a, b) for a, b in zip(g0, gan.generator.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(d0, gan.discriminator.parameters()))
