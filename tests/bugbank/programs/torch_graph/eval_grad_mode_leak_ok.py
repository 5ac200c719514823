"""An evaluation helper saves the autograd mode, turns it off, and restores it, so training after validation still learns.

Source: https://github.com/pytorch/pytorch/pull/6931
        https://github.com/davidmascharka/tbd-nets/issues/8
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)


def evaluate(net, x, y):
    net.eval()
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    try:
        accuracy = (net(x).argmax(dim=1) == y).float().mean().item()
    finally:
        torch.set_grad_enabled(previous)
    net.train()
    return accuracy


def train_epoch(net, optimizer, x, y):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
x, y = torch.randn(12, 4), torch.randint(0, 3, (12,))

train_epoch(net, optimizer, x, y)
evaluate(net, x, y)
before = net[0].weight.detach().clone()
train_epoch(net, optimizer, x, y)
assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0
assert not torch.equal(before, net[0].weight)
