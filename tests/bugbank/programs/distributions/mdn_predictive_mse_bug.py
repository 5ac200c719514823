"""Mixture density network fitted with an MSE on a draw from its predictive MixtureSameFamily,
built by a method: the mixture has no rsample, so the draw carries no gradient.

Source: https://github.com/pytorch/pytorch/issues/39178
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical, MixtureSameFamily, Normal


class DensityNet(nn.Module):
    def __init__(self, d_in=3, k=4):
        super().__init__()
        self.hidden = nn.Linear(d_in, 16)
        self.heads = nn.Linear(16, 3 * k)

    def predictive(self, x):
        h = torch.tanh(self.hidden(x))
        logit_pi, mu, log_sigma = self.heads(h).chunk(3, dim=-1)
        return MixtureSameFamily(Categorical(logits=logit_pi), Normal(mu, log_sigma.exp()))


def regression_step(net, optimizer, x, y):
    y_draw = net.predictive(x).sample()  # BUG
    loss = F.mse_loss(y_draw, y) + 1e-4 * sum(p.pow(2).sum() for p in net.parameters())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    net = DensityNet()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)
    regression_step(net, optimizer, torch.randn(6, 3), torch.randn(6))
    # only the weight-decay term reaches the weights: the data term gives exactly 2e-4 * w
    for p in net.parameters():
        assert torch.allclose(p.grad, 2e-4 * p.detach())
