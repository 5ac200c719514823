"""A GAN wrapper module owns both networks; in the generator step the discriminator's stray gradients are cleared with self.discriminator.zero_grad() between g_loss.backward() and the generator's step, which leaves the generator's gradients intact, so both networks train.

Source: https://github.com/VideoVerses/VideoVAEPlus/issues/13
        https://github.com/Lightning-AI/pytorch-lightning/issues/18740
Label: clean
Family: loop
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


class GAN(nn.Module):
    def __init__(self, z=4, d=2):
        super().__init__()
        self.z = z
        self.generator = nn.Sequential(nn.Linear(z, 16), nn.ReLU(), nn.Linear(16, d))
        self.discriminator = nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Linear(16, 1))
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=2e-3)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=2e-3)

    def train_step(self, real):
        n = real.shape[0]
        fake = self.generator(torch.randn(n, self.z))

        self.opt_d.zero_grad()
        d_real = self.discriminator(real)
        d_fake = self.discriminator(fake.detach())
        d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        d_loss.backward()
        self.opt_d.step()

        self.opt_g.zero_grad()
        pred = self.discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred))
        g_loss.backward()
        self.discriminator.zero_grad()  # D's grads from the G loss are not wanted
        self.opt_g.step()
        return d_loss.item(), g_loss.item()


torch.manual_seed(0)
gan = GAN()
g_start = [p.detach().clone() for p in gan.generator.parameters()]
d_start = gan.discriminator[0].weight.detach().clone()
for _ in range(3):
    gan.train_step(torch.randn(8, 2) * 0.5 + 1.0)
assert all(not torch.equal(a, p) for a, p in zip(g_start, gan.generator.parameters()))
assert gan.generator[0].weight.grad.abs().sum() > 0
assert not torch.equal(d_start, gan.discriminator[0].weight)
