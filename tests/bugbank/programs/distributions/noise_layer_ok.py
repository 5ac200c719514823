"""Stochastic layer written with the reparameterisation trick by hand: mu + sigma * randn_like(mu).

Source: https://github.com/pytorch/pytorch/issues/4620
        https://discuss.pytorch.org/t/back-propagation-on-variable-sampled-by-random-distribution/31790
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn


class NoisyLayer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.mu = nn.Linear(d, d)
        self.log_sigma = nn.Linear(d, d)

    def forward(self, x):
        mu, sigma = self.mu(x), self.log_sigma(x).exp()
        eps = torch.randn_like(mu)
        return mu + sigma * eps


if __name__ == "__main__":
    torch.manual_seed(0)
    layer, head = NoisyLayer(4), nn.Linear(4, 1)
    params = list(layer.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=0.1)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    loss = nn.functional.mse_loss(head(torch.relu(layer(x))), y)
    opt.zero_grad()
    loss.backward()
    assert layer.mu.weight.grad.abs().sum() > 0 and layer.log_sigma.weight.grad.abs().sum() > 0
    opt.step()
