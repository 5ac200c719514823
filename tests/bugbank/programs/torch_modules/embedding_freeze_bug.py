"""The model 'keeps the pretrained embeddings stable' by calling requires_grad_(False) on them inside forward: from the first call on, the embedding never gets a gradient, though it was meant to be fine-tuned with a small learning rate.

Source: https://github.com/OpenNMT/OpenNMT-py/issues/192
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class TextClassifier(nn.Module):
    def __init__(self, vocab, dim, n_cls):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.rnn = nn.GRU(dim, dim, batch_first=True)
        self.cls = nn.Linear(dim, n_cls)

    def forward(self, ids):
        self.emb.weight.requires_grad_(False)  # BUG
        h, _ = self.rnn(self.emb(ids))
        return self.cls(h[:, -1])


torch.manual_seed(0)
model = TextClassifier(30, 8, 2)
opt = torch.optim.Adam([
    {"params": model.emb.parameters(), "lr": 1e-4},  # gentle fine-tuning
    {"params": list(model.rnn.parameters()) + list(model.cls.parameters()), "lr": 1e-2},
])
ids = torch.randint(0, 30, (4, 7))
y = torch.tensor([0, 1, 1, 0])
emb0 = model.emb.weight.detach().clone()
for _ in range(3):
    opt.zero_grad()
    F.cross_entropy(model(ids), y).backward()
    opt.step()

assert model.emb.weight.grad is None
assert torch.equal(emb0, model.emb.weight.detach())
assert model.cls.weight.grad is not None
