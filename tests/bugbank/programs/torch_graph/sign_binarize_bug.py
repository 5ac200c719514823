"""A BinaryConnect-style layer binarizes its weights with torch.sign in forward, so the real weights get a zero gradient.

Source: https://github.com/MatthieuCourbariaux/BinaryConnect/issues/7
        https://github.com/itayhubara/BinaryNet.pytorch/issues/25
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class BinaryLinear(nn.Linear):
    def forward(self, x):
        binary_weight = torch.sign(self.weight)  # BUG
        return F.linear(x, binary_weight, self.bias)


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

    # sign() has a zero derivative almost everywhere: the real-valued weights never move.
    assert net.fc1.weight.grad is not None
    assert net.fc1.weight.grad.abs().sum() == 0
    assert torch.equal(start, net.fc1.weight)
    assert net.fc2.weight.grad.abs().sum() > 0
