"""Fine-tuning: the optimizer is built over model.parameters() and only then the classifier is swapped for a new 3-class head; the new head is not in the optimizer and stays at its random init.

Source: https://github.com/microsoft/nni/issues/4521
        https://github.com/pytorch/pytorch/issues/54765
Label: buggy
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
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)  # BUG
    model.classifier = nn.Linear(16, num_classes)  # BUG
    return model, optimizer


if __name__ == "__main__":
    torch.manual_seed(0)
    model, optimizer = build(3)
    x, y = torch.randn(24, 10), torch.randint(0, 3, (24,))
    head0 = model.classifier.weight.detach().clone()
    feat0 = model.features[0].weight.detach().clone()
    for _ in range(3):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    assert model.classifier.weight.grad is not None
    assert torch.equal(head0, model.classifier.weight.detach())  # never stepped
    assert not torch.equal(feat0, model.features[0].weight.detach())
