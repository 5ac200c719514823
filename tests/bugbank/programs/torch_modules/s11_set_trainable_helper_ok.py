"""A model factory freezes the pretrained backbone through a set_trainable(module, flag) helper that sets requires_grad on every parameter and switches the module to eval mode; only the new head trains.

Source: https://github.com/catalyst-team/catalyst/issues/79
Label: clean
Family: params
Frameworks: torch
"""
import torch
from torch import nn


def set_trainable(module, flag):
    for p in module.parameters():
        p.requires_grad = flag
    module.train(flag)


class Classifier(nn.Module):
    def __init__(self, backbone, n_features, n_classes):
        super().__init__()
        self.backbone = backbone
        self.logits = nn.Linear(n_features, n_classes)
        self.frozen = False

    def forward(self, x):
        return self.logits(self.backbone(x))


def build_model(n_classes=3, frozen=True):
    backbone = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
    model = Classifier(backbone, 16, n_classes)
    if frozen:
        set_trainable(model.backbone, False)
        model.frozen = True
    return model


if __name__ == "__main__":
    torch.manual_seed(0)
    model = build_model(frozen=True)
    before = model.backbone[0].weight.detach().clone()
    head_before = model.logits.weight.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    x, y = torch.randn(10, 8), torch.randint(0, 3, (10,))
    for _ in range(2):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    assert model.backbone[0].weight.grad is None
    assert torch.equal(before, model.backbone[0].weight)
    assert model.logits.weight.grad.abs().sum() > 0
    assert not torch.equal(head_before, model.logits.weight)
