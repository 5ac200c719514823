"""A ConVIRT-style LightningModule encodes text with a frozen encoder under torch.no_grad() and applies the trainable projection head outside the block: both heads learn.

Source: https://github.com/edreisMD/ConVIRT-pytorch/issues/7
Label: clean
Family: graph
Frameworks: torch, lightning
"""
import lightning as L
import torch
import torch.nn.functional as F
from torch import nn


def make_projection(n_in, n_out):
    return nn.Sequential(nn.Linear(n_in, n_out), nn.ReLU(), nn.Linear(n_out, n_out))


class ConVIRT(L.LightningModule):
    def __init__(self, img_dim=12, txt_dim=10, proj=6, temperature=0.1):
        super().__init__()
        self.image_encoder = nn.Linear(img_dim, 16)
        self.text_encoder = nn.Embedding(30, txt_dim)
        self.text_encoder.requires_grad_(False)
        self.image_proj = make_projection(16, proj)
        self.text_proj = make_projection(txt_dim, proj)
        self.temperature = temperature
        self.history = []

    def encode_text(self, tokens):
        with torch.no_grad():
            pooled = self.text_encoder(tokens).mean(dim=1)
        return self.text_proj(pooled)

    def info_nce(self, zi, zt):
        zi, zt = F.normalize(zi, dim=-1), F.normalize(zt, dim=-1)
        logits = zi @ zt.t() / self.temperature
        target = torch.arange(zi.shape[0])
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))

    def training_step(self, batch, batch_idx):
        images, tokens = batch
        zi = self.image_proj(self.image_encoder(images))
        zt = self.encode_text(tokens)
        loss = self.info_nce(zi, zt)
        self.history.append(loss.item())
        return loss

    def configure_optimizers(self):
        params = list(self.image_encoder.parameters()) + list(self.image_proj.parameters())
        params += list(self.text_proj.parameters())
        return torch.optim.Adam(params, lr=1e-2)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = ConVIRT()
    batch = (torch.randn(4, 12), torch.randint(0, 30, (4, 5)))
    loss = model.training_step(batch, 0)
    loss.backward()
    assert model.text_proj[0].weight.grad is not None
    assert model.text_proj[0].weight.grad.abs().sum() > 0
    assert model.text_encoder.weight.grad is None
