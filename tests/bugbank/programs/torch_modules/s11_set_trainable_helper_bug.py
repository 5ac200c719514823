"""A model factory freezes the pretrained backbone through a small set_trainable(module, flag) helper that assigns module.requires_grad: that only sets a plain attribute on the nn.Module, so no parameter is frozen and the backbone keeps training.

Source: https://github.com/catalyst-team/catalyst/issues/79
Label: buggy
Family: params
Frameworks: torch
"""
import torch
from torch import nn


def set_trainable(module, flag):
    module.requires_grad = flag  # BUG


class Classifier(nn.Module):
    def __init__(self, backbone, n_features, n_classes):
        super().__init__()
        self.backbone = backbone
        self.logits = nn.Linear(n_features, n_classes)

    def forward(self, x):
        return self.logits(self.backbone(x))


def build_model(n_classes=3, frozen=True):
    backbone = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
    model = Classifier(backbone, 16, n_classes)
    if frozen:
        set_trainable(model.backbone, False)
    return model


if __name__ == "__main__":
    torch.manual_seed(0)
    model = build_model(frozen=True)
    before = model.backbone[0].weight.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    x, y = torch.randn(10, 8), torch.randint(0, 3, (10,))
    for _ in range(2):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    # the "frozen" backbone still got gradients and moved
    assert model.backbone[0].weight.grad is not None
    assert not torch.equal(before, model.backbone[0].weight)
