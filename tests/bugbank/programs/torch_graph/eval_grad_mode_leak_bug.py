"""An evaluation helper turns autograd off with torch.set_grad_enabled(False) and never turns it back on, so the next epoch cannot backpropagate.

Source: https://github.com/pytorch/pytorch/pull/6931
        https://github.com/davidmascharka/tbd-nets/issues/8
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)


def evaluate(net, x, y):
    net.eval()
    torch.set_grad_enabled(False)  # BUG
    accuracy = (net(x).argmax(dim=1) == y).float().mean().item()
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
try:
    train_epoch(net, optimizer, x, y)
except RuntimeError as err:
    assert "does not require grad" in str(err)
else:
    raise AssertionError("the second epoch trained")
