"""A soft Dice loss stays a tensor expression; the hard Dice metric thresholds and calls .item() only for the log.

Source: https://github.com/kevinzakka/pytorch-goodies/issues/11
Label: clean
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
        intersection = (probs * masks).sum()
        total = probs.sum() + masks.sum()
        return 1.0 - (2 * intersection + self.eps) / (total + self.eps)


def hard_dice(logits, masks):
    preds = (torch.sigmoid(logits) > 0.5).float()
    inter = (preds * masks).sum().item()
    return 2 * inter / max(preds.sum().item() + masks.sum().item(), 1.0)


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
    logits = net(images)
    loss = criterion(logits, masks)
    loss.backward()
    optimizer.step()
    history.append((loss.item(), hard_dice(logits.detach(), masks)))

assert net.body[0].weight.grad is not None and net.body[0].weight.grad.abs().sum() > 0
assert not torch.equal(start, net.body[0].weight)
