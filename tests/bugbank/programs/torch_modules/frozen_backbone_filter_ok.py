"""Feature extraction: a pretrained backbone is frozen with requires_grad=False, a new head replaces the old one, and only then is the optimizer built over the parameters that still require grad; the head trains and the backbone stays fixed on purpose.

Source: https://theneuralbase.com/pytorch/learn/intermediate/freezing-base-model-weights/
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.optim as optim


class TinyResNetLike(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(4, classes)

    def forward(self, x):
        return self.fc(self.features(x))


def prepare_for_finetune(model, n_classes):
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(model.fc.in_features, n_classes)
    trainable = filter(lambda p: p.requires_grad, model.parameters())
    return optim.SGD(trainable, lr=0.1, momentum=0.9)


torch.manual_seed(0)
model = TinyResNetLike()
optimizer = prepare_for_finetune(model, n_classes=2)
criterion = nn.CrossEntropyLoss()
conv0 = model.features[0].weight.detach().clone()
head0 = model.fc.weight.detach().clone()
for _ in range(2):
    images, labels = torch.randn(4, 1, 6, 6), torch.tensor([0, 1, 0, 1])
    optimizer.zero_grad()
    loss = criterion(model(images), labels)
    loss.backward()
    optimizer.step()

assert model.fc.weight.grad.abs().sum() > 0
assert not torch.equal(head0, model.fc.weight)
assert torch.equal(conv0, model.features[0].weight)  # frozen by design
