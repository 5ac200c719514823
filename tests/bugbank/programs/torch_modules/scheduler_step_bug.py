"""The training loop steps the learning-rate scheduler instead of the optimizer when a scheduler is configured: the weights never change.

Source: https://github.com/ClementPinard/SfmLearner-Pytorch/issues/5
        https://github.com/pytorch/pytorch/issues/3814
Label: buggy
Family: loop
Frameworks: torch
"""
import argparse

import torch
import torch.nn as nn


def train(args):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.9) if args.scheduler else None
    before = [p.detach().clone() for p in model.parameters()]
    for epoch in range(args.epochs):
        x, y = torch.randn(32, 4), torch.randn(32, 1)
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        if scheduler:
            scheduler.step()  # BUG
        else:
            optimizer.step()  # BUG
    return before, model


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--scheduler", default="step")
    before, model = train(p.parse_args([]))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
