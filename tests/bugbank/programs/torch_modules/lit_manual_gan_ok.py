"""A LightningModule with manual optimization trains a tiny GAN: it fetches both optimizers, toggles each one, calls manual_backward, step and zero_grad, and the discriminator sees fake.detach(); both networks train.

Source: https://github.com/Lightning-AI/pytorch-lightning/issues/12682
Label: clean
Family: loop
Frameworks: torch, lightning
"""
import logging
import warnings

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class TinyGAN(L.LightningModule):
    def __init__(self, z_dim=3):
        super().__init__()
        self.automatic_optimization = False
        self.z_dim = z_dim
        self.G = nn.Sequential(nn.Linear(z_dim, 8), nn.ReLU(), nn.Linear(8, 2))
        self.D = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))

    def training_step(self, batch, batch_idx):
        (real,) = batch
        g_opt, d_opt = self.optimizers()
        n = real.size(0)
        fake = self.G(torch.randn(n, self.z_dim))

        self.toggle_optimizer(d_opt)
        d_loss = (F.binary_cross_entropy_with_logits(self.D(real), torch.ones(n, 1))
                  + F.binary_cross_entropy_with_logits(self.D(fake.detach()), torch.zeros(n, 1)))
        self.manual_backward(d_loss)
        d_opt.step()
        d_opt.zero_grad()
        self.untoggle_optimizer(d_opt)

        self.toggle_optimizer(g_opt)
        g_loss = F.binary_cross_entropy_with_logits(self.D(fake), torch.ones(n, 1))
        self.manual_backward(g_loss)
        g_opt.step()
        g_opt.zero_grad()
        self.untoggle_optimizer(g_opt)
        self.log_dict({"d_loss": d_loss, "g_loss": g_loss})

    def configure_optimizers(self):
        return (torch.optim.Adam(self.G.parameters(), lr=1e-2),
                torch.optim.Adam(self.D.parameters(), lr=1e-2))


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model = TinyGAN()
    g0 = model.G[0].weight.detach().clone()
    d0 = model.D[0].weight.detach().clone()
    trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, DataLoader(TensorDataset(torch.randn(16, 2) + 2.0), batch_size=8))
    assert not torch.equal(g0, model.G[0].weight)
    assert not torch.equal(d0, model.D[0].weight)
