"""A small CNN builds its named stages with nn.Sequential(OrderedDict(...)); the plain OrderedDict it keeps holds only the per-stage channel counts.

Source: https://github.com/pytorch/pytorch/issues/632
        https://github.com/pytorch/pytorch/issues/10817
Label: clean
Family: params
Frameworks: torch
"""
from collections import OrderedDict

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.widths = OrderedDict([("conv1", 4), ("conv2", 8)])
        self.stages = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(1, self.widths["conv1"], 3, padding=1)),
            ("act1", nn.ReLU()),
            ("conv2", nn.Conv2d(self.widths["conv1"], self.widths["conv2"], 3, padding=1)),
            ("act2", nn.ReLU()),
        ]))
        self.classifier = nn.Linear(self.widths["conv2"], n_classes)

    def forward(self, x):
        return self.classifier(self.stages(x).mean(dim=(2, 3)))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = SmallCNN()
    conv_before = model.stages.conv1.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    images, labels = torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,))
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        opt.step()
    assert len(list(model.parameters())) == 6
    assert model.stages.conv1.weight.grad.abs().sum() > 0
    assert not torch.equal(model.stages.conv1.weight.detach(), conv_before)
