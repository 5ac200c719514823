"""A value network stores the plain Python list that its `make_mlp` helper returns: the hidden layers are never registered, so only the output head trains.

Source: https://theflyingbirds.in/blog/pytorch-mysteries-lets-understand-nnmodule-nnparameter-modulelist-sequential-and-the-classic-layers-linear-activations-dropout
Label: buggy
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


class ValueNet(nn.Module):
    def __init__(self, obs_dim, hidden=(16, 16)):
        super().__init__()
        self.body = make_mlp([obs_dim, *hidden])  # BUG
        self.v = nn.Linear(hidden[-1], 1)

    def forward(self, obs):
        h = obs
        for layer in self.body:
            h = layer(h)
        return self.v(h).squeeze(-1)


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
    assert len(list(net.parameters())) == 2
    assert first.weight.grad is not None
    assert torch.equal(first.weight.detach(), w0)
