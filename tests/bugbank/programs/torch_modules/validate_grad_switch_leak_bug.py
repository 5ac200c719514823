"""The validation helper switches autograd off with a bare `torch.set_grad_enabled(False)` call and never switches it back: the next training epoch builds no graph and its backward raises.

Source: https://github.com/whr94621/NJUNMT-pytorch/pull/16
        https://github.com/davidmascharka/tbd-nets/issues/8
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
from torch import nn


def evaluate(model, x, y):
    model.eval()
    torch.set_grad_enabled(False)  # BUG
    acc = (model(x).argmax(dim=1) == y).float().mean().item()
    model.train()
    return acc


def train_epoch(model, optimizer, x, y):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    train_epoch(model, optimizer, x, y)
    evaluate(model, x, y)
    try:
        train_epoch(model, optimizer, x, y)
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("the epoch after evaluation should have had no graph")
    finally:
        torch.set_grad_enabled(True)
