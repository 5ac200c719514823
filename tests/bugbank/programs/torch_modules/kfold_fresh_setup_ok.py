"""K-fold cross-validation where a helper builds a new model, a new optimizer and a new scheduler for every fold, so each fold's optimizer holds that fold's weights and every fold trains.

Source: https://androidkt.com/pytorch-k-fold-cross-validation-using-dataloader-and-sklearn/
Label: clean
Family: loop
Frameworks: torch
"""
import torch
from torch import nn, optim


def build(seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return net, opt, sched


def train_fold(net, opt, sched, x, y, epochs=3):
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        sched.step()
    return loss.item()


X = torch.randn(24, 3)
Y = (X[:, :1] - X[:, 1:2] > 0).float()
folds = torch.arange(24) % 3
moved = []
for k in range(3):
    net, opt, sched = build(seed=k)
    start = [p.detach().clone() for p in net.parameters()]
    train_fold(net, opt, sched, X[folds != k], Y[folds != k])
    moved.append(all(not torch.equal(a, p) for a, p in zip(start, net.parameters())))
    assert net[0].weight.grad.abs().sum() > 0

assert all(moved), moved
