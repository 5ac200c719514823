"""Notebook-style flat cells: the logits are read through .data before the sigmoid, so the loss has no graph and backward fails.

Source: https://blog.csdn.net/realitycss/article/details/116855385
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
X = torch.randn(10, 3)
y = (X[:, 0] > 0).float().unsqueeze(1)

clf = nn.Linear(3, 1)
optimizer = torch.optim.SGD(clf.parameters(), lr=0.5)
bce = nn.BCELoss()

# %% one training step
optimizer.zero_grad()
logits = clf(X)
probs = torch.sigmoid(logits.data)  # BUG
loss = bce(probs, y)
try:
    loss.backward()
except RuntimeError as err:
    assert "does not require grad" in str(err)
else:
    raise AssertionError("a loss built from .data should have no graph")
assert clf.weight.grad is None
