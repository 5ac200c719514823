"""A binary classifier feeds hard 0/1 predictions `(sigmoid(out) > 0.5).float()` to BCELoss; backward fails.

Source: https://discuss.pytorch.org/t/torch-round-gradient/28628/4
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
criterion = nn.BCELoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(10, 3)
y = (torch.rand(10, 1) > 0.5).float()


def train_one(batch_x, batch_y):
    optimizer.zero_grad()
    scores = torch.sigmoid(model(batch_x))
    hard = (scores > 0.5).float()  # BUG
    loss = criterion(hard, batch_y)
    loss.backward()
    optimizer.step()


try:
    train_one(x, y)
    raised = None
except RuntimeError as err:
    raised = err

assert raised is not None and "does not require grad" in str(raised)
assert model[0].weight.grad is None
