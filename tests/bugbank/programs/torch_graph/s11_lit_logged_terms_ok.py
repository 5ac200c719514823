"""A Lightning logistic regression returns a dict whose "loss" entry is live while the logged terms are `.detach()`ed and the accuracy comes from argmax: the weights train.

Source: https://github.com/Lightning-Universe/lightning-bolts/issues/793
Label: clean
Family: graph
Frameworks: torch, lightning
"""
import logging
import warnings

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset


class LogisticRegression(pl.LightningModule):
    def __init__(self, input_dim=4, num_classes=3, l2_strength=1e-3):
        super().__init__()
        self.linear = nn.Linear(input_dim, num_classes)
        self.l2_strength = l2_strength

    def forward(self, x):
        return self.linear(x)

    def shared_step(self, batch):
        x, y = batch
        y_hat = self(x)
        loss = F.cross_entropy(y_hat, y, reduction="sum")
        l2_reg = self.l2_strength * sum(p.pow(2).sum() for p in self.parameters())
        acc = (y_hat.argmax(dim=-1) == y).float().mean()
        return loss + l2_reg, {"ce": loss.detach(), "l2": l2_reg.detach(), "acc": acc}

    def training_step(self, batch, batch_idx):
        loss, terms = self.shared_step(batch)
        self.log_dict({f"train_{k}": v for k, v in terms.items()})
        return {"loss": loss, "log": {k: v.detach() for k, v in terms.items()}}

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(16, 4), torch.randint(0, 3, (16,)))
    model = LogisticRegression()
    before = model.linear.weight.detach().clone()
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, DataLoader(data, batch_size=8))
    assert not torch.equal(before, model.linear.weight)
