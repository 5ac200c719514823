"""A LightningModule fine-tunes a new decoder on top of a pretrained encoder frozen on purpose: configure_optimizers passes only the decoder, and the decoder trains.

Source: https://github.com/jzenn/Image-AutoEncoder/issues/1
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


class LitDecoderFinetune(L.LightningModule):
    def __init__(self, encoder, d=6, z=2):
        super().__init__()
        self.encoder = encoder
        self.encoder.requires_grad_(False)  # pretrained: kept fixed
        self.decoder = nn.Sequential(nn.Linear(z, 4), nn.ReLU(), nn.Linear(4, d))

    def training_step(self, batch, batch_idx):
        (x,) = batch
        with torch.no_grad():
            z = self.encoder(x)
        return F.mse_loss(self.decoder(z), x)

    def configure_optimizers(self):
        return torch.optim.Adam(self.decoder.parameters(), lr=1e-2)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    model = LitDecoderFinetune(encoder)
    dec0 = [p.detach().clone() for p in model.decoder.parameters()]
    enc0 = model.encoder[0].weight.detach().clone()
    trainer = L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, DataLoader(TensorDataset(torch.randn(24, 6)), batch_size=8))
    assert all(not torch.equal(a, p) for a, p in zip(dec0, model.decoder.parameters()))
    assert torch.equal(enc0, model.encoder[0].weight)
