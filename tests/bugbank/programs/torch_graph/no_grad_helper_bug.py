"""A helper that embeds text tokens is decorated with @torch.no_grad(), so the embedding never trains.

Source: https://github.com/pytorch/pytorch/issues/10858
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
embedding = nn.Embedding(20, 8)
classifier = nn.Linear(8, 2)


@torch.no_grad()  # BUG
def embed(tokens):
    return embedding(tokens).mean(dim=1)


def train_step(tokens, labels, optimizer):
    optimizer.zero_grad()
    logits = classifier(embed(tokens))
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    optimizer.step()
    return loss.item()


opt = torch.optim.SGD(list(embedding.parameters()) + list(classifier.parameters()), lr=0.5)
tokens = torch.randint(0, 20, (6, 5))
labels = torch.randint(0, 2, (6,))
start = embedding.weight.clone()
for _ in range(2):
    train_step(tokens, labels, opt)

assert embedding.weight.grad is None
assert torch.equal(start, embedding.weight)
assert classifier.weight.grad is not None
