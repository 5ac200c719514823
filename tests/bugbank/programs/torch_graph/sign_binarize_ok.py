"""A BinaryConnect-style layer binarizes its weights with a straight-through estimator, so the real weights train.

Source: https://github.com/MatthieuCourbariaux/BinaryConnect/issues/7
        https://github.com/itayhubara/BinaryNet.pytorch/issues/25
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def binarize_ste(w):
    # forward: sign(w); backward: identity (clipped to |w| <= 1 by hardtanh)
    clipped = F.hardtanh(w)
    return clipped + (torch.sign(clipped) - clipped).detach()


class BinaryLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, binarize_ste(self.weight), self.bias)


class BinaryMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = BinaryLinear(10, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


def run_epoch(model, optimizer, batches):
    for inputs, labels in batches:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    net = BinaryMLP()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    batches = [(torch.randn(8, 10), torch.randint(0, 3, (8,))) for _ in range(2)]
    start = net.fc1.weight.detach().clone()
    run_epoch(net, optimizer, batches)

    assert net.fc1.weight.grad is not None and net.fc1.weight.grad.abs().sum() > 0
    assert not torch.equal(start, net.fc1.weight)
