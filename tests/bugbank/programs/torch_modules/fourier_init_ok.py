"""Random Fourier features: the projection is drawn with nn.init.normal_ and kept fixed on purpose as a buffer; only the readout trains.

Source: https://github.com/jmclong/random-fourier-features-pytorch/issues/6
Label: clean
Family: params
Frameworks: torch
"""
import math

import torch
from torch import nn


class RandomFourier(nn.Module):
    def __init__(self, in_dim, n_feat, sigma=1.0):
        super().__init__()
        proj = torch.empty(in_dim, n_feat)
        nn.init.normal_(proj, std=sigma)
        # fixed random projection: saved with the model, moved with .to(), never trained
        self.register_buffer("proj", proj)
        self.register_buffer("phase", torch.rand(n_feat) * 2 * math.pi)

    def forward(self, x):
        return torch.cos(x @ self.proj + self.phase)


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = RandomFourier(3, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        return self.out(self.features(x))


torch.manual_seed(1)
net = Regressor()
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
x = torch.randn(32, 3)
y = x.sum(dim=1, keepdim=True)
w0 = net.out.weight.detach().clone()
for step in range(3):
    optimizer.zero_grad()
    loss = nn.functional.mse_loss(net(x), y)
    loss.backward()
    optimizer.step()

assert net.out.weight.grad is not None and net.out.weight.grad.abs().sum() > 0
assert not torch.equal(w0, net.out.weight.detach())
assert "features.proj" in dict(net.named_buffers())
