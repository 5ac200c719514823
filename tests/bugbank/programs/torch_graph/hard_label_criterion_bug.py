"""A custom loss module compares softmax(...).argmax() hard labels to the targets; requires_grad_() silences the error and nothing trains.

Source: https://php.bkmy88.com/faq/1835025.html
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn


class HardLabelMSE(nn.Module):
    """Mean squared error between predicted class ids and target class ids."""

    def forward(self, logits, target):
        predicted = torch.softmax(logits, dim=1).argmax(dim=1).type(torch.float32)  # BUG
        return ((predicted - target.float()) ** 2).mean()


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x):
        return self.net(x)


def main():
    torch.manual_seed(0)
    model = Classifier()
    criterion = HardLabelMSE()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    features = torch.randn(16, 4)
    labels = torch.randint(0, 3, (16,))
    before = model.net[0].weight.detach().clone()
    for _ in range(2):
        loss = criterion(model(features), labels)
        loss.requires_grad_(True)  # BUG
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert model.net[0].weight.grad is None
    assert torch.equal(model.net[0].weight, before)


if __name__ == "__main__":
    main()
