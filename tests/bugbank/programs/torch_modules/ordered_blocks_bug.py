"""A small CNN keeps its named stages in a collections.OrderedDict instead of nn.Sequential/nn.ModuleDict: the convolutions are never registered, model.parameters() holds only the classifier.

Source: https://github.com/pytorch/pytorch/issues/632
        https://github.com/pytorch/pytorch/issues/10817
Label: buggy
Family: params
Frameworks: torch
"""
from collections import OrderedDict

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.stages = OrderedDict([  # BUG
            ("conv1", nn.Conv2d(1, 4, 3, padding=1)),
            ("act1", nn.ReLU()),
            ("conv2", nn.Conv2d(4, 8, 3, padding=1)),
            ("act2", nn.ReLU()),
        ])
        self.classifier = nn.Linear(8, n_classes)

    def forward(self, x):
        for stage in self.stages.values():
            x = stage(x)
        return self.classifier(x.mean(dim=(2, 3)))


def train(model, images, labels, steps=2):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model(images), labels).backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = SmallCNN()
    conv_before = model.stages["conv1"].weight.detach().clone()
    train(model, torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,)))
    assert len(list(model.parameters())) == 2
    assert model.stages["conv1"].weight.grad is not None
    assert torch.equal(model.stages["conv1"].weight.detach(), conv_before)
