"""Gradual unfreezing: the optimizer is built over the parameters that require grad while the backbone is frozen; the backbone is unfrozen at epoch 2 but never added to the optimizer, so it gets gradients and never changes.

Source: https://github.com/facebookresearch/detectron2/issues/2486
        https://github.com/OptimalScale/LMFlow/issues/726
        https://github.com/fastai/fastai/issues/2133
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
from torch import nn


def set_trainable(module, flag):
    for p in module.parameters():
        p.requires_grad = flag


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU())
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(self.backbone(x))


torch.manual_seed(0)
model = Classifier()
set_trainable(model.backbone, False)
trainable = [p for p in model.parameters() if p.requires_grad]
optimizer = torch.optim.SGD(trainable, lr=0.1, momentum=0.9)  # BUG
loss_fn = nn.CrossEntropyLoss()
x = torch.randn(32, 10)
y = torch.randint(0, 3, (32,))

backbone_at_unfreeze = None
for epoch in range(4):
    if epoch == 2:
        set_trainable(model.backbone, True)  # BUG
        backbone_at_unfreeze = [p.detach().clone() for p in model.backbone.parameters()]
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()

if __name__ == "__main__":
    # after unfreezing the backbone receives gradients, yet no step touches it
    assert model.backbone[0].weight.grad is not None
    assert model.backbone[0].weight.grad.abs().sum() > 0
    assert all(torch.equal(b, p) for b, p in zip(backbone_at_unfreeze, model.backbone.parameters()))
