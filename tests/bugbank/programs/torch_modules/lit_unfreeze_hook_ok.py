"""A LightningModule fine-tuned with a BaseFinetuning callback: the backbone is frozen before the optimizer is built and, at epoch 1, unfrozen AND added to the optimizer as a new param group, so it trains.

Source: https://github.com/OptimalScale/LMFlow/issues/726
        https://github.com/Lightning-AI/pytorch-lightning/pull/5744
Label: clean
Family: loop
Frameworks: torch, lightning
"""
import logging
import warnings

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import BaseFinetuning
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class UnfreezeBackboneAt(BaseFinetuning):
    def __init__(self, epoch=1):
        super().__init__()
        self.epoch = epoch

    def freeze_before_training(self, pl_module):
        self.freeze(pl_module.backbone)

    def finetune_function(self, pl_module, current_epoch, optimizer):
        if current_epoch == self.epoch:
            self.snapshot = [p.detach().clone() for p in pl_module.backbone.parameters()]
            self.unfreeze_and_add_param_group(pl_module.backbone, optimizer, lr=1e-2)


class Model(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 12), nn.ReLU())
        self.head = nn.Linear(12, 2)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.head(self.backbone(x)), y)

    def configure_optimizers(self):
        return torch.optim.Adam(filter(lambda p: p.requires_grad, self.parameters()), lr=1e-2)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.manual_seed(0)
    model = Model()
    cb = UnfreezeBackboneAt(1)
    data = TensorDataset(torch.randn(16, 8), torch.randint(0, 2, (16,)))
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[cb])
    trainer.fit(model, DataLoader(data, batch_size=8))
    assert model.backbone[0].weight.grad.abs().sum() > 0
    assert not all(torch.equal(a, p) for a, p in zip(cb.snapshot, model.backbone.parameters()))
