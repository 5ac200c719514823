"""A flat training script reads a hidden layer through `.data`, cutting the first layer out of the graph.

Source: https://blog.csdn.net/realitycss/article/details/116855385
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn

torch.manual_seed(1)
fc1 = nn.Linear(4, 16)
fc2 = nn.Linear(16, 3)
params = list(fc1.parameters()) + list(fc2.parameters())
optimizer = torch.optim.SGD(params, lr=0.1)
criterion = nn.CrossEntropyLoss()

xs = torch.randn(10, 4)
ys = torch.randint(0, 3, (10,))
w_start = fc1.weight.detach().clone()

for epoch in range(2):
    hidden = torch.relu(fc1(xs)).data  # BUG
    logits = fc2(hidden)
    loss = criterion(logits, ys)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()

assert fc1.weight.grad is None
assert torch.equal(w_start, fc1.weight)
assert fc2.weight.grad is not None and fc2.weight.grad.abs().sum() > 0
