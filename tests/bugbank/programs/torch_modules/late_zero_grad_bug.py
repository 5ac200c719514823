"""A training loop calls optimizer.zero_grad() between loss.backward() and optimizer.step(): the step sees no gradients and the weights never move.

Source: https://velog.io/@rhss10/기본-optimizer.zerograd는-어디에-넣어주어야-할까
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn


def train_epoch(model, loader, optimizer, criterion):
    model.train()
    total = 0.0
    for x, y in loader:
        out = model(x)
        loss = criterion(out, y)
        loss.backward()
        optimizer.zero_grad()  # BUG
        optimizer.step()
        total += loss.item()
    return total / len(loader)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loader = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(3)]
    before = [p.detach().clone() for p in model.parameters()]
    train_epoch(model, loader, optimizer, nn.MSELoss())
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
