"""A helper builds the residual blocks as a list and the model wraps it in nn.ModuleList before storing it: registered and trained.

Source: https://runebook.dev/zh/docs/pytorch/generated/torch.nn.modulelist/torch.nn.ModuleList
Label: clean
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn


def make_blocks(width, depth):
    blocks = []
    for _ in range(depth):
        blocks.append(nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU()))
    return blocks


class ResNetMLP(nn.Module):
    def __init__(self, width=8, depth=2):
        super().__init__()
        self.stem = nn.Linear(3, width)
        self.blocks = nn.ModuleList(make_blocks(width, depth))
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        h = self.stem(x)
        for blk in self.blocks:
            h = h + blk(h)
        return self.out(h)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = ResNetMLP()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    w = model.blocks[0][1].weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    assert model.blocks[0][1].weight.grad.abs().sum() > 0
    assert not torch.equal(w, model.blocks[0][1].weight.detach())
