"""K-fold cross-validation re-creates the model in each fold but reuses the optimizer built before the loop: every fold trains nothing, the optimizer still holds the first model's weights.

Source: https://github.com/spro/practical-pytorch/issues/9
        https://github.com/Lightning-AI/pytorch-lightning/issues/12409
Label: buggy
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


net = make_net()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)  # BUG
criterion = nn.BCEWithLogitsLoss()
untouched = []

for fold in range(K):
    val = torch.arange(len(X)) % K == fold
    net = make_net()  # BUG
    start = [p.detach().clone() for p in net.parameters()]
    for epoch in range(3):
        optimizer.zero_grad()
        loss = criterion(net(X[~val]), Y[~val])
        loss.backward()
        optimizer.step()
    untouched.append(all(torch.equal(a, p) for a, p in zip(start, net.parameters())))

assert all(untouched), untouched
