"""A multi-task step collects the task losses in a list and sums torch.stack(list): the graph is kept and both heads train.

Source: https://github.com/speechbrain/speechbrain/issues/735
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(4, 8)
        self.reg = nn.Linear(8, 1)
        self.cls = nn.Linear(8, 3)

    def forward(self, x):
        h = torch.relu(self.trunk(x))
        return self.reg(h), self.cls(h)


def step(model, opt, x, y_reg, y_cls, weights=(1.0, 0.5)):
    opt.zero_grad()
    pred_reg, pred_cls = model(x)
    losses = [weights[0] * F.mse_loss(pred_reg, y_reg), weights[1] * F.cross_entropy(pred_cls, y_cls)]
    total = torch.stack(losses).sum()
    total.backward()
    opt.step()
    return total


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TwoHeads()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(6, 4)
    step(model, opt, x, torch.randn(6, 1), torch.randint(0, 3, (6,)))
    assert model.reg.weight.grad.abs().sum() > 0
    assert model.cls.weight.grad.abs().sum() > 0
    assert model.trunk.weight.grad.abs().sum() > 0
