"""The training loop calls compute_loss(), which calls a feature helper that runs under torch.no_grad().

Source: https://github.com/nianticlabs/monodepth2/issues/24
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def extract_features(backbone, images):
    with torch.no_grad():  # BUG
        return backbone(images).flatten(1)  # BUG


def compute_loss(backbone, head, images, labels):
    feats = extract_features(backbone, images)
    return F.cross_entropy(head(feats), labels)


def train(backbone, head, batches, epochs=1):
    opt = torch.optim.SGD(list(backbone.parameters()) + list(head.parameters()), lr=0.1)
    for _ in range(epochs):
        for images, labels in batches:
            loss = compute_loss(backbone, head, images, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()


torch.manual_seed(0)
backbone = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2))
head = nn.Linear(8, 3)
batches = [(torch.randn(4, 1, 6, 6), torch.randint(0, 3, (4,)))]
start = backbone[0].weight.clone()
train(backbone, head, batches)

assert backbone[0].weight.grad is None
assert torch.equal(start, backbone[0].weight)
assert head.weight.grad is not None
