"""Transfer learning: a pretrained encoder is frozen once with requires_grad_(False) and deliberately left out of the optimizer; only the new head trains.

Source: https://github.com/OpenNMT/OpenNMT-py/issues/192
Label: clean
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def pretrained_encoder(vocab, dim):
    torch.manual_seed(123)  # stands in for loading a checkpoint
    enc = nn.Sequential(nn.Embedding(vocab, dim), nn.Flatten(), nn.Linear(dim * 7, dim), nn.Tanh())
    enc.requires_grad_(False)
    enc.eval()
    return enc


class Probe(nn.Module):
    def __init__(self, encoder, dim, n_cls):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(dim, n_cls)

    def forward(self, ids):
        return self.head(self.encoder(ids))


model = Probe(pretrained_encoder(30, 8), 8, 2)
opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
torch.manual_seed(0)
ids = torch.randint(0, 30, (4, 7))
y = torch.tensor([0, 1, 1, 0])
enc0 = model.encoder[0].weight.detach().clone()
head0 = model.head.weight.detach().clone()
for _ in range(3):
    opt.zero_grad()
    F.cross_entropy(model(ids), y).backward()
    opt.step()

assert model.head.weight.grad is not None and model.head.weight.grad.abs().sum() > 0
assert not torch.equal(head0, model.head.weight.detach())
assert torch.equal(enc0, model.encoder[0].weight)  # frozen on purpose
