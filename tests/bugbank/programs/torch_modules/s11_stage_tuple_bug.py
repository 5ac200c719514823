"""A small CNN keeps its stages in a tuple built from a helper make_stage(): a tuple is a plain Python container, so the stages' parameters are not registered, model.parameters() holds only the classifier, and the convolution weights never train.

Source: https://www.engineermaxxing.com/micro/lessons/pytorch-internals.html
Label: buggy
Family: params
Frameworks: torch
"""
import torch
from torch import nn
from torch.nn import functional as F


def make_stage(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


class TinyCNN(nn.Module):
    def __init__(self, widths=(1, 4, 8), n_classes=3):
        super().__init__()
        self.stages = tuple(make_stage(a, b) for a, b in zip(widths[:-1], widths[1:]))  # BUG
        self.head = nn.Linear(widths[-1], n_classes)

    def forward(self, x):
        for stage in self.stages:
            x = stage(x)
        return self.head(x.mean(dim=(2, 3)))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TinyCNN()
    assert len(list(model.parameters())) == 2  # only the head
    conv = model.stages[0][0]
    before = conv.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,))
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert conv.weight.grad.abs().sum() > 0  # the gradient is there ...
    assert torch.equal(before, conv.weight)  # ... but no optimizer holds the weight
