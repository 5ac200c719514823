"""Embeddings initialised from a NumPy matrix: nn.Parameter(torch.from_numpy(arr)).float() is a float32 copy, not a Parameter, so the embedding table is never updated.

Source: https://github.com/shenweichen/DeepCTR-Torch/issues/87
Label: buggy
Family: params
Frameworks: torch
"""
import numpy as np
import torch
import torch.nn as nn


def load_vectors(vocab, dim, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(vocab, dim))  # float64, like most saved vectors


class BagOfWords(nn.Module):
    def __init__(self, vectors, n_classes):
        super().__init__()
        self.table = nn.Parameter(torch.from_numpy(vectors)).float()  # BUG
        self.fc = nn.Linear(vectors.shape[1], n_classes)

    def forward(self, ids):
        return self.fc(self.table[ids].mean(dim=1))


torch.manual_seed(0)
model = BagOfWords(load_vectors(20, 6), 3)
opt = torch.optim.SGD(model.parameters(), lr=1.0)
ids = torch.randint(0, 20, (8, 5))
labels = torch.randint(0, 3, (8,))
before = model.table.detach().clone()
for _ in range(2):
    opt.zero_grad()
    nn.functional.cross_entropy(model(ids), labels).backward()
    opt.step()

assert "table" not in dict(model.named_parameters())
assert torch.equal(before, model.table.detach())
assert model.fc.weight.grad is not None
