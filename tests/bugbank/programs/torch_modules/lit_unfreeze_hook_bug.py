"""A LightningModule keeps its encoder frozen for the first epoch and unfreezes it in on_train_epoch_start, but configure_optimizers only took the parameters that required grad at setup: the unfrozen encoder is never updated.

Source: https://github.com/OptimalScale/LMFlow/issues/726
        https://github.com/skorch-dev/skorch/issues/261
Label: buggy
Family: loop
Frameworks: torch, lightning
"""
import logging
import warnings

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class FineTuner(L.LightningModule):
    def __init__(self, unfreeze_at=1):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(8, 12), nn.ReLU())
        self.classifier = nn.Linear(12, 2)
        self.unfreeze_at = unfreeze_at
        self.encoder.requires_grad_(False)

    def forward(self, x):
        return self.classifier(self.encoder(x))

    def on_train_epoch_start(self):
        if self.current_epoch == self.unfreeze_at:
            for p in self.encoder.parameters():
                p.requires_grad = True  # BUG

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        params = filter(lambda p: p.requires_grad, self.parameters())
        return torch.optim.Adam(params, lr=1e-2)  # BUG


class Snapshot(L.Callback):
    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == pl_module.unfreeze_at:
            self.encoder_at_unfreeze = [p.detach().clone() for p in pl_module.encoder.parameters()]


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model = FineTuner()
    snap = Snapshot()
    data = TensorDataset(torch.randn(16, 8), torch.randint(0, 2, (16,)))
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[snap])
    trainer.fit(model, DataLoader(data, batch_size=8))
    assert model.encoder[0].weight.requires_grad
    assert model.encoder[0].weight.grad is not None and model.encoder[0].weight.grad.abs().sum() > 0
    assert all(torch.equal(a, p) for a, p in zip(snap.encoder_at_unfreeze, model.encoder.parameters()))
