"""A trainer method clears gradients with model.zero_grad() right after backward and before optimizer.step(): the weights never move.

Source: https://github.com/openpifpaf/openpifpaf/issues/123
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
from torch import nn


class Trainer:
    def __init__(self, model, optimizer, loss_fn):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn

    def _apply_gradients(self):
        self.model.zero_grad(set_to_none=True)  # BUG
        self.optimizer.step()

    def train_batch(self, x, y):
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self._apply_gradients()
        return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Linear(4, 2)
    trainer = Trainer(net, torch.optim.SGD(net.parameters(), lr=0.1), nn.CrossEntropyLoss())
    before = net.weight.detach().clone()
    for _ in range(2):
        trainer.train_batch(torch.randn(8, 4), torch.randint(0, 2, (8,)))
    assert net.weight.grad is None
    assert torch.equal(net.weight, before)
