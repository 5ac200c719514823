"""A text CNN builds one Conv1d per kernel size with list(map(lambda ...)): a plain list, so the convolutions are never registered or trained.

Source: https://github.com/pytorch/pytorch/issues/1053
Label: buggy
Family: params
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


class TextCNN(nn.Module):
    def __init__(self, emb_dim=6, n_filters=4, kernel_sizes=(2, 3), n_cls=2):
        super().__init__()
        self.convs = list(map(lambda k: nn.Conv1d(emb_dim, n_filters, k), kernel_sizes))  # BUG
        self.fc = nn.Linear(n_filters * len(kernel_sizes), n_cls)

    def forward(self, x):  # x: (B, L, emb_dim)
        x = x.transpose(1, 2)
        pooled = [F.relu(conv(x)).max(dim=-1).values for conv in self.convs]
        return self.fc(torch.cat(pooled, dim=-1))


torch.manual_seed(0)
net = TextCNN()
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
x, y = torch.randn(4, 7, 6), torch.tensor([0, 1, 1, 0])
k0 = [c.weight.detach().clone() for c in net.convs]
for _ in range(3):
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    opt.step()

assert all(torch.equal(a, c.weight.detach()) for a, c in zip(k0, net.convs))
