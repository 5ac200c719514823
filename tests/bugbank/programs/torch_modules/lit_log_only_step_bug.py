"""A LightningModule's training_step logs the loss with self.log but never returns it: with automatic optimization Lightning treats the None return as "skip this batch", so no backward or optimizer step ever runs and the weights never change.

Source: https://github.com/graviraja/MLOps-Basics/issues/14
Label: buggy
Family: loop
Frameworks: torch, lightning
"""
import logging
import warnings

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class SentimentHead(pl.LightningModule):
    def __init__(self, dim=6, classes=2, lr=1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(dim, 16), nn.ReLU(), nn.Linear(16, classes))
        self.loss_fn = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):  # BUG
        x, y = batch
        logits = self(x)
        loss = self.loss_fn(logits, y)
        self.log("train_loss", loss, prog_bar=True)  # BUG

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", self.loss_fn(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    ds = TensorDataset(torch.randn(24, 6), torch.randint(0, 2, (24,)))
    model = SentimentHead()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, DataLoader(ds, batch_size=8))
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert all(p.grad is None for p in model.parameters())
