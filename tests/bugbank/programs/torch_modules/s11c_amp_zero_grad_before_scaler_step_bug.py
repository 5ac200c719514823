"""A detection-style trainer class clears the gradients right after the scaled backward and before `scaler.step`, so the AMP step finds no gradient and no weight ever moves.

Source: https://github.com/IDEA-Research/DN-DETR/issues/18
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(6, 12), nn.ReLU())
        self.box_head = nn.Linear(12, 4)

    def forward(self, x):
        return self.box_head(self.backbone(x))


class Engine:
    def __init__(self, model, lr=1e-2, amp=False):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        self.scaler = torch.amp.GradScaler("cpu", enabled=amp)

    def criterion(self, pred, boxes):
        return nn.functional.l1_loss(pred, boxes)

    def train_one_epoch(self, loader):
        stats = {}
        for images, boxes in loader:
            with torch.autocast("cpu", enabled=False):
                losses = self.criterion(self.model(images), boxes)
            self.scaler.scale(losses).backward()
            self.optimizer.zero_grad()  # BUG
            self.scaler.step(self.optimizer)
            self.scaler.update()
            stats["loss"] = losses.item()
        return stats


if __name__ == "__main__":
    torch.manual_seed(0)
    det = Detector()
    engine = Engine(det)
    loader = [(torch.randn(4, 6), torch.rand(4, 4)) for _ in range(2)]
    before = [p.detach().clone() for p in det.parameters()]
    engine.train_one_epoch(loader)
    assert all(torch.equal(b, p) for b, p in zip(before, det.parameters()))
    assert all(p.grad is None for p in det.parameters())
