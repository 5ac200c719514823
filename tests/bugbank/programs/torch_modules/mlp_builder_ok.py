"""A value network unpacks the list its `make_mlp` helper returns into nn.Sequential; the helper's list of hidden sizes kept on the module is configuration.

Source: https://theflyingbirds.in/blog/pytorch-mysteries-lets-understand-nnmodule-nnparameter-modulelist-sequential-and-the-classic-layers-linear-activations-dropout
Label: clean
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn


def make_mlp(sizes, act=nn.ReLU):
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), act()]
    return layers


def hidden_sizes(width, depth):
    return [width] * depth


class ValueNet(nn.Module):
    def __init__(self, obs_dim, width=16, depth=2):
        super().__init__()
        self.sizes = hidden_sizes(width, depth)
        self.body = nn.Sequential(*make_mlp([obs_dim, *self.sizes]))
        self.v = nn.Linear(self.sizes[-1], 1)

    def forward(self, obs):
        return self.v(self.body(obs)).squeeze(-1)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = ValueNet(4)
    first = net.body[0]
    w0 = first.weight.detach().clone()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    obs, returns = torch.randn(20, 4), torch.randn(20)
    for _ in range(3):
        opt.zero_grad()
        ((net(obs) - returns) ** 2).mean().backward()
        opt.step()
    assert len(list(net.parameters())) == 6
    assert first.weight.grad.abs().sum() > 0
    assert not torch.equal(first.weight.detach(), w0)
