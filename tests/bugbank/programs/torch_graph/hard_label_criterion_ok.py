"""A custom loss module scores the logits with cross-entropy and only uses argmax for the accuracy it reports.

Source: https://php.bkmy88.com/faq/1835025.html
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


class CrossEntropyWithAccuracy(nn.Module):
    """Returns the loss and, for logging, the accuracy of the hard predictions."""

    def forward(self, logits, target):
        predicted = torch.softmax(logits, dim=1).argmax(dim=1).type(torch.float32)
        accuracy = (predicted == target.float()).float().mean()
        return F.cross_entropy(logits, target), accuracy


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x):
        return self.net(x)


def main():
    torch.manual_seed(0)
    model = Classifier()
    criterion = CrossEntropyWithAccuracy()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    features = torch.randn(16, 4)
    labels = torch.randint(0, 3, (16,))
    before = model.net[0].weight.detach().clone()
    for _ in range(2):
        loss, accuracy = criterion(model(features), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert 0.0 <= accuracy.item() <= 1.0
    assert model.net[0].weight.grad is not None
    assert model.net[0].weight.grad.abs().sum() > 0
    assert not torch.equal(model.net[0].weight, before)


if __name__ == "__main__":
    main()
