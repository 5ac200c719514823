"""Regression training with a Gaussian-noise augmentation transform (Normal(0, std).sample) and a random feature-drop mask (Bernoulli): the noise is data, not a trained path.

Source: https://github.com/OpendTect/dgbpy/pull/13
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Bernoulli, Normal


class RandomGaussianNoise:
    def __init__(self, std=0.3, p=0.5):
        self.noise = Normal(torch.tensor(0.0), torch.tensor(std))
        self.p = p

    def __call__(self, x):
        if torch.rand(()) < self.p:
            return x + self.noise.sample(x.shape)
        return x


class RandomFeatureDrop:
    def __init__(self, keep=0.9):
        self.mask = Bernoulli(probs=torch.tensor(keep))

    def __call__(self, x):
        return x * self.mask.sample(x.shape)


augment = [RandomGaussianNoise(p=1.0), RandomFeatureDrop()]
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
loss_fn = nn.MSELoss()

if __name__ == "__main__":
    torch.manual_seed(0)
    x, y = torch.randn(32, 5), torch.randn(32, 1)
    for epoch in range(2):
        xb = x
        for t in augment:
            xb = t(xb)
        loss = loss_fn(model(xb), y)
        optimizer.zero_grad()
        loss.backward()
        assert model[0].weight.grad.abs().sum() > 0
        optimizer.step()
