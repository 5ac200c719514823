"""An autoencoder LightningModule's configure_optimizers passes only the encoder's parameters: the decoder gets gradients every step but is never updated.

Source: https://github.com/jzenn/Image-AutoEncoder/issues/1
        https://github.com/cabralpinto/modular-diffusion/issues/17
Label: buggy
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


class LitAutoEncoder(L.LightningModule):
    def __init__(self, d=6, z=2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, 4), nn.ReLU(), nn.Linear(4, z))
        self.decoder = nn.Sequential(nn.Linear(z, 4), nn.ReLU(), nn.Linear(4, d))

    def training_step(self, batch, batch_idx):
        (x,) = batch
        return F.mse_loss(self.decoder(self.encoder(x)), x)

    def configure_optimizers(self):
        return torch.optim.Adam(self.encoder.parameters(), lr=1e-2)  # BUG


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    ae = LitAutoEncoder()
    dec0 = [p.detach().clone() for p in ae.decoder.parameters()]
    enc0 = ae.encoder[0].weight.detach().clone()
    trainer = L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(ae, DataLoader(TensorDataset(torch.randn(24, 6)), batch_size=8))
    assert all(torch.equal(a, p) for a, p in zip(dec0, ae.decoder.parameters()))
    assert not torch.equal(enc0, ae.encoder[0].weight.detach())
