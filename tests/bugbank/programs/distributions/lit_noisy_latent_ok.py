"""A LightningModule's encoder returns a torch.distributions.Normal and training_step decodes posterior.rsample(): the encoder trains.

Source: https://stevengong.co/notes/Reparametrization-Trick
Label: clean
Family: sampling
Frameworks: torch, lightning
"""
import lightning as L
import torch
from torch import nn
from torch.distributions import Normal


class Encoder(nn.Module):
    def __init__(self, d_in, d_latent):
        super().__init__()
        self.loc = nn.Linear(d_in, d_latent)
        self.log_scale = nn.Linear(d_in, d_latent)

    def forward(self, x):
        return Normal(self.loc(x), self.log_scale(x).exp())


class NoisyAutoencoder(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder(6, 2)
        self.decoder = nn.Linear(2, 6)

    def training_step(self, batch, batch_idx):
        posterior = self.encoder(batch)
        z = posterior.rsample()
        return nn.functional.mse_loss(self.decoder(z), batch)

    def validation_step(self, batch, batch_idx):
        # a draw for a preview only: no gradient needed here
        preview = self.decoder(self.encoder(batch).sample())
        self.log("val_preview_mean", preview.mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


if __name__ == "__main__":
    torch.manual_seed(0)
    module = NoisyAutoencoder()
    loss = module.training_step(torch.randn(5, 6), 0)
    loss.backward()
    assert module.encoder.loc.weight.grad.abs().sum() > 0
    assert module.encoder.log_scale.weight.grad.abs().sum() > 0
