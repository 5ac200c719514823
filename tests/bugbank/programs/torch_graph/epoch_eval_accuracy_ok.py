"""Per-epoch training with a no_grad evaluation helper: argmax for accuracy, .item() for the running loss, NumPy for the confusion matrix.

Source: https://php.bkmy88.com/faq/1835025.html
Label: clean
Family: graph
Frameworks: torch
"""
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def evaluate(model, loader, num_classes):
    model.eval()
    confusion = np.zeros((num_classes, num_classes), dtype=int)
    correct = 0
    with torch.no_grad():
        for xb, yb in loader:
            preds = model(xb).argmax(dim=1)
            correct += (preds == yb).sum().item()
            for t, p in zip(yb.numpy(), preds.numpy()):
                confusion[t, p] += 1
    model.train()
    return correct / len(loader.dataset), confusion


def train(model, train_loader, val_loader, epochs=2):
    loss_fn = nn.CrossEntropyLoss()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    history = []
    for epoch in range(epochs):
        running_loss, running_correct = 0.0, 0
        for xb, yb in train_loader:
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            running_loss += loss.item() * xb.size(0)
            running_correct += (logits.argmax(dim=1) == yb).sum().item()
        val_acc, confusion = evaluate(model, val_loader, 3)
        history.append((running_loss / len(train_loader.dataset), val_acc, confusion.trace()))
    return history


if __name__ == "__main__":
    torch.manual_seed(0)
    train_ds = TensorDataset(torch.randn(24, 4), torch.randint(0, 3, (24,)))
    val_ds = TensorDataset(torch.randn(9, 4), torch.randint(0, 3, (9,)))
    model = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 3))
    start = model[0].weight.detach().clone()
    train(model, DataLoader(train_ds, batch_size=8), DataLoader(val_ds, batch_size=3))

    assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0
    assert not torch.equal(start, model[0].weight)
