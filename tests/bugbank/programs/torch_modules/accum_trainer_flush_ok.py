"""A Trainer class accumulates gradients over micro-batches: step() and zero_grad() run together every N micro-batches and once more for the leftover at the end of the epoch, so every micro-batch's gradient reaches the weights.

Source: https://leyaa.ai/codefly/learn/pytorch/part-1/pytorch-gradient-accumulation-and-zeroing
Label: clean
Family: loop
Frameworks: torch
"""
import torch
from torch import nn


class Trainer:
    def __init__(self, net, accum_steps=3, lr=0.05):
        self.net = net
        self.accum_steps = accum_steps
        self.opt = torch.optim.SGD(net.parameters(), lr=lr)
        self.crit = nn.SmoothL1Loss()
        self.updates = 0

    def _apply(self):
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.updates += 1

    def train_epoch(self, batches):
        self.net.train()
        self.opt.zero_grad(set_to_none=True)
        pending = 0
        for i, (x, y) in enumerate(batches):
            loss = self.crit(self.net(x), y) / self.accum_steps
            loss.backward()
            pending += 1
            if (i + 1) % self.accum_steps == 0:
                self._apply()
                pending = 0
        if pending:
            self._apply()


if __name__ == "__main__":
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 1))
    data = [(torch.randn(4, 5), torch.randn(4, 1)) for _ in range(7)]
    before = [p.detach().clone() for p in net.parameters()]
    trainer = Trainer(net)
    trainer.train_epoch(data)
    assert trainer.updates == 3, trainer.updates
    assert all(not torch.equal(a, p) for a, p in zip(before, net.parameters()))
    # one more backward: the gradient reaches the first layer
    trainer.crit(net(data[0][0]), data[0][1]).backward()
    assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0
