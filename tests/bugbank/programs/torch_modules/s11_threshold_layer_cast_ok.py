"""A soft-threshold layer for a float64 denoiser creates its threshold with the dtype inside the factory call, keeps a fixed epsilon as a buffer cast with .to(dtype), and the whole model is cast after construction: the threshold is a registered parameter and trains.

Source: https://github.com/pytorch/pytorch/issues/39062
Label: clean
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn

DTYPE = torch.float64


class SoftThreshold(nn.Module):
    def __init__(self, features, dtype=DTYPE):
        super().__init__()
        self.threshold = nn.Parameter(torch.full((features,), 0.1, dtype=dtype))
        self.register_buffer("eps", torch.tensor(1e-6).to(dtype))

    def forward(self, x):
        return torch.sign(x) * torch.relu(x.abs() - self.threshold.abs() - self.eps)


def make_denoiser(features=5):
    return nn.Sequential(
        nn.Linear(features, features),
        SoftThreshold(features),
        nn.Linear(features, features),
    ).to(DTYPE)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = make_denoiser()
    names = [n for n, _ in net.named_parameters()]
    assert "1.threshold" in names
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    x = torch.randn(16, 5, dtype=DTYPE)
    before = net[1].threshold.detach().clone()
    for _ in range(2):
        opt.zero_grad()
        loss = (net(x + 0.1 * torch.randn_like(x)) - x).pow(2).mean()
        loss.backward()
        opt.step()
    assert net[1].threshold.grad.abs().sum() > 0
    assert not torch.equal(before, net[1].threshold)
