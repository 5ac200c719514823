"""K-fold cross-validation re-creates the model and its optimizer together in each fold: every fold trains its own model.

Source: https://github.com/spro/practical-pytorch/issues/9
        https://github.com/Lightning-AI/pytorch-lightning/issues/12409
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
X = torch.randn(30, 4)
Y = (X[:, :1] > 0).float()
K = 3


def make_net():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


criterion = nn.BCEWithLogitsLoss()
moved = []

for fold in range(K):
    val = torch.arange(len(X)) % K == fold
    net = make_net()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    start = [p.detach().clone() for p in net.parameters()]
    for epoch in range(3):
        optimizer.zero_grad()
        loss = criterion(net(X[~val]), Y[~val])
        loss.backward()
        optimizer.step()
    moved.append(all(not torch.equal(a, p) for a, p in zip(start, net.parameters())))

assert all(moved), moved
