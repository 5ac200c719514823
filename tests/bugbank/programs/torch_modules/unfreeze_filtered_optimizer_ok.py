"""Gradual unfreezing done right: the optimizer starts with the head only and, when the backbone is unfrozen, its parameters join the optimizer as a new param group with a smaller learning rate.

Source: https://github.com/facebookresearch/detectron2/issues/2486
        https://github.com/fastai/fastai/issues/2133
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.backbone(x))


def freeze(module):
    module.requires_grad_(False)


def unfreeze_into(module, optimizer, lr):
    module.requires_grad_(True)
    optimizer.add_param_group({"params": list(module.parameters()), "lr": lr})


def train(epochs=4, unfreeze_at=2):
    torch.manual_seed(0)
    model = Classifier()
    freeze(model.backbone)
    optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    x, y = torch.randn(32, 10), torch.randint(0, 3, (32,))
    snapshot = None
    for epoch in range(epochs):
        if epoch == unfreeze_at:
            unfreeze_into(model.backbone, optimizer, lr=0.01)
            snapshot = [p.detach().clone() for p in model.backbone.parameters()]
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model, snapshot


if __name__ == "__main__":
    model, snapshot = train()
    assert model.backbone[0].weight.grad.abs().sum() > 0
    assert not all(torch.equal(b, p) for b, p in zip(snapshot, model.backbone.parameters()))
