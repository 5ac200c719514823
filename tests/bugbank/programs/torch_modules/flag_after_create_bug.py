"""A normalising-flow layer creates its scale and shift as plain tensors and switches `requires_grad` on a line later: they get gradients but are not parameters, so the optimizer over model.parameters() never moves them.

Source: https://openillumi.com/?p=120695
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn


class AffineFlow(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.log_scale = torch.zeros(dim)  # BUG
        self.log_scale.requires_grad = True
        self.shift = torch.randn(dim) * 0.01  # BUG
        self.shift.requires_grad_()

    def forward(self, x):
        z = x * torch.exp(self.log_scale) + self.shift
        log_det = self.log_scale.sum().expand(x.shape[0])
        return z, log_det


class Flow(nn.Module):
    def __init__(self, dim, n_layers=2):
        super().__init__()
        self.layers = nn.ModuleList([AffineFlow(dim) for _ in range(n_layers)])
        self.mixer = nn.Linear(dim, dim)

    def forward(self, x):
        total = torch.zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(self.mixer(x))
            total = total + ld
        return x, total


def nll(model, x):
    z, log_det = model(x)
    return (0.5 * (z ** 2).sum(dim=1) - log_det).mean()


if __name__ == "__main__":
    torch.manual_seed(0)
    flow = Flow(3)
    opt = torch.optim.SGD(flow.parameters(), lr=0.1)
    data = torch.randn(32, 3) * 2 + 1
    for _ in range(3):
        opt.zero_grad()
        nll(flow, data).backward()
        opt.step()
    first = flow.layers[0]
    assert first.log_scale.grad is not None and first.log_scale.grad.abs().sum() > 0
    assert torch.equal(first.log_scale.detach(), torch.zeros(3))  # never stepped
    assert len(list(flow.parameters())) == 2
