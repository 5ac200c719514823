"""A model's encode() method carries @torch.no_grad() (added for sampling) and forward() reuses it in training.

Source: https://github.com/Project-MONAI/GenerativeModels/issues/243
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(10, 3)
        self.dec = nn.Linear(3, 10)

    @torch.no_grad()  # BUG
    def encode(self, x):
        return torch.tanh(self.enc(x))

    def forward(self, x):
        return self.dec(self.encode(x))


def main():
    torch.manual_seed(0)
    model = AutoEncoder()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    data = torch.randn(8, 10)
    for _ in range(2):
        recon = model(data)
        loss = ((recon - data) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert model.enc.weight.grad is None
    assert model.dec.weight.grad is not None


if __name__ == "__main__":
    main()
