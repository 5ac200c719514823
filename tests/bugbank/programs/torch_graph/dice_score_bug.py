"""A custom Dice loss counts overlap with .item() and re-wraps the score with torch.tensor(requires_grad=True): the U-Net never trains.

Source: https://github.com/kevinzakka/pytorch-goodies/issues/11
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class DiceLoss(nn.Module):
    def __init__(self, eps=1.0):
        super().__init__()
        self.eps = eps

    def forward(self, logits, masks):
        probs = torch.sigmoid(logits)
        intersection = (probs * masks).sum().item()  # BUG
        total = probs.sum().item() + masks.sum().item()  # BUG
        dice = (2 * intersection + self.eps) / (total + self.eps)
        return torch.tensor(1.0 - dice, requires_grad=True)  # BUG


class TinySegNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 1))

    def forward(self, x):
        return self.body(x)


torch.manual_seed(0)
net = TinySegNet()
criterion = DiceLoss()
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
images = torch.randn(2, 1, 8, 8)
masks = (torch.rand(2, 1, 8, 8) > 0.5).float()
start = net.body[0].weight.detach().clone()
history = []
for epoch in range(2):
    optimizer.zero_grad()
    loss = criterion(net(images), masks)
    loss.backward()
    optimizer.step()
    history.append(loss.item())

assert net.body[0].weight.grad is None
assert torch.equal(start, net.body[0].weight)
