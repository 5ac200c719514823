"""A soft-threshold layer used inside nn.Sequential creates its learnable threshold as nn.Parameter(...).to(dtype) for a float64 model: the cast returns a plain non-leaf tensor, so the threshold is not registered, the optimizer never sees it and it never trains.

Source: https://github.com/pytorch/pytorch/issues/39062
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn

DTYPE = torch.float64


class SoftThreshold(nn.Module):
    def __init__(self, features, dtype=DTYPE):
        super().__init__()
        self.threshold = nn.Parameter(torch.full((features,), 0.1)).to(dtype)  # BUG

    def forward(self, x):
        return torch.sign(x) * torch.relu(x.abs() - self.threshold)


def make_denoiser(features=5):
    return nn.Sequential(
        nn.Linear(features, features),
        SoftThreshold(features),
        nn.Linear(features, features),
    ).to(DTYPE)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = make_denoiser()
    thr = net[1].threshold
    names = [n for n, _ in net.named_parameters()]
    assert not any("threshold" in n for n in names)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(16, 5, dtype=DTYPE)
    before = thr.detach().clone()
    for _ in range(2):
        opt.zero_grad()
        loss = (net(x + 0.1 * torch.randn_like(x)) - x).pow(2).mean()
        loss.backward()
        opt.step()
    assert not thr.is_leaf  # a non-leaf copy: no .grad, and the optimizer does not hold it
    assert torch.equal(before, net[1].threshold)
