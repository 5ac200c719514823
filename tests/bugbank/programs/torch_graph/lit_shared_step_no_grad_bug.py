"""A LightningModule shares one _shared_step between training and validation and decorates it with @torch.no_grad() for validation's sake, so the training loss has no graph and fit fails at backward.

Source: https://github.com/Lightning-AI/pytorch-lightning/issues/9299
        https://github.com/rasbt/faster-pytorch-blog/issues/8
Label: buggy
Family: graph
Frameworks: torch, lightning
"""
import logging
import warnings

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class TabularClassifier(L.LightningModule):
    def __init__(self, n_in=5, n_out=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, 8), nn.ReLU(), nn.Linear(8, n_out))

    def forward(self, x):
        return self.body(x)

    @torch.no_grad()  # BUG
    def _shared_step(self, batch):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(dim=1) == y).float().mean()
        return loss, acc

    def training_step(self, batch, batch_idx):
        loss, acc = self._shared_step(batch)
        self.log("train_acc", acc)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, acc = self._shared_step(batch)
        self.log("val_loss", loss)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(16, 5), torch.randint(0, 3, (16,)))
    model = TabularClassifier()
    trainer = L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    try:
        trainer.fit(model, DataLoader(data, batch_size=8))
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("training a no_grad loss should fail at backward")
