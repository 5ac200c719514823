"""A small CNN keeps its stages in an nn.ModuleList built from a helper make_stage(), and a tuple of parameter-free activation choices plus a plain dict of normalisation constants beside them: every weight is registered and trains.

Source: https://www.engineermaxxing.com/micro/lessons/pytorch-internals.html
Label: clean
Family: params
Frameworks: torch
"""
import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"relu": nn.ReLU(), "gelu": nn.GELU()}


def make_stage(c_in, c_out, act="relu"):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), ACTIVATIONS[act], nn.MaxPool2d(2))


class TinyCNN(nn.Module):
    def __init__(self, widths=(1, 4, 8), n_classes=3):
        super().__init__()
        self.stages = nn.ModuleList(make_stage(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.norm = {"mean": 0.5, "std": 0.25}
        self.pools = (nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(widths[-1], n_classes)

    def forward(self, x):
        x = (x - self.norm["mean"]) / self.norm["std"]
        for stage in self.stages:
            x = stage(x)
        for pool in self.pools:
            x = pool(x)
        return self.head(x)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TinyCNN()
    conv = model.stages[0][0]
    before = conv.weight.detach().clone()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(6, 1, 8, 8), torch.randint(0, 3, (6,))
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    assert conv.weight.grad.abs().sum() > 0
    assert not torch.equal(before, conv.weight)
