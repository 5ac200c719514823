"""Fine-tuning: the classifier is swapped for a new 3-class head first, then the optimizer is built: the head trains.

Source: https://github.com/microsoft/nni/issues/4521
        https://github.com/pytorch/pytorch/issues/54765
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(10, 16), nn.ReLU())
        self.classifier = nn.Linear(16, 1000)

    def forward(self, x):
        return self.classifier(self.features(x))


def build(num_classes, lr=0.05):
    model = Backbone()
    model.classifier = nn.Linear(16, num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return model, optimizer


if __name__ == "__main__":
    torch.manual_seed(0)
    model, optimizer = build(3)
    x, y = torch.randn(24, 10), torch.randint(0, 3, (24,))
    head0 = model.classifier.weight.detach().clone()
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    assert model.classifier.weight.grad.abs().sum() > 0
    assert not torch.equal(head0, model.classifier.weight.detach())
