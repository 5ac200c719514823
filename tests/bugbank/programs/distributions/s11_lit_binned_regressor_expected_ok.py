"""Lightning binned regressor that regresses the expected bin centre; a sampled bin is only logged as a metric.

Source: https://discuss.pytorch.org/t/how-to-compute-gradient-of-sample-of-categorical-distribution/71970
Label: clean
Family: sampling
Frameworks: torch, lightning
"""
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical
import lightning as L


def draw_bin(logits):
    pmf = Categorical(logits=logits)
    return pmf.sample(), pmf


class BinnedRegressor(L.LightningModule):
    def __init__(self, d_in=4, n_bins=8):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d_in, 16), nn.ReLU())
        self.bin_head = nn.Linear(16, n_bins)
        self.offset_head = nn.Linear(16, 1)
        self.register_buffer("centres", torch.linspace(-2.0, 2.0, n_bins))

    def training_step(self, batch, batch_idx):
        x, y = batch
        h = self.trunk(x)
        idx, pmf = draw_bin(self.bin_head(h))
        pred = (pmf.probs * self.centres).sum(-1) + self.offset_head(h).squeeze(-1)
        loss = F.mse_loss(pred, y)
        self.log("sampled_bin_mae", (self.centres[idx] - y).abs().mean())
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    x = torch.randn(16, 4)
    y = x.sum(-1) * 0.5
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    model = BinnedRegressor()
    before = model.bin_head.weight.detach().clone()
    trainer = L.Trainer(max_steps=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, loader)
    assert not torch.equal(before, model.bin_head.weight)
