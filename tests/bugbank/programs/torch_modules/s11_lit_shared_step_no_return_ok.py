"""A LightningModule computes and logs its loss in a shared _shared_step(batch, stage) helper; training_step returns the helper's loss (validation_step need not return anything), so Lightning backpropagates it and the weights train.

Source: https://github.com/Lightning-AI/pytorch-lightning/issues/4479
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


class Regressor(L.LightningModule):
    def __init__(self, n_in=4, lr=0.05):
        super().__init__()
        self.lr = lr
        self.layer = nn.Linear(n_in, 1)

    def forward(self, x):
        return self.layer(x).squeeze(-1)

    def _shared_step(self, batch, stage):
        x, y = batch
        loss = F.mse_loss(self(x), y)
        self.log(f"{stage}_loss", loss, prog_bar=True)
        return loss

    def training_step(self, batch, batch_idx):
        out = self._shared_step(batch, "train")
        return {"loss": out}

    def validation_step(self, batch, batch_idx):
        self._shared_step(batch, "val")

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    L.seed_everything(0, verbose=False)
    data = TensorDataset(torch.randn(16, 4), torch.randn(16))
    model = Regressor()
    before = model.layer.weight.detach().clone()
    trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(model, DataLoader(data, batch_size=8))
    assert not torch.equal(before, model.layer.weight)
