"""A LightningModule's training_step returns a dict with 'train_loss' and the predictions but no 'loss' key: automatic optimisation has nothing to minimise and fit() raises at once.

Source: https://github.com/Lightning-AI/pytorch-lightning/issues/3041
        https://github.com/Lightning-AI/pytorch-lightning/issues/7750
Label: buggy
Family: loop
Frameworks: torch, lightning
"""
import logging
import warnings

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitClassifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = nn.Linear(5, 3)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        return {"train_loss": loss, "preds": logits.argmax(-1).detach(), "target": y}  # BUG

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    ds = TensorDataset(torch.randn(12, 5), torch.randint(0, 3, (12,)))
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    try:
        trainer.fit(LitClassifier(), DataLoader(ds, batch_size=4))
    except Exception as err:  # MisconfigurationException
        assert "'loss' key needs to be present" in str(err), err
    else:
        raise AssertionError("a dict without 'loss' did not raise")
