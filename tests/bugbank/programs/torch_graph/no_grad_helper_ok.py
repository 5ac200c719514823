"""Self-training: a @torch.no_grad() helper makes pseudo-labels; the loss uses the live logits.

Source: https://github.com/pytorch/pytorch/issues/10858
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
embedding = nn.Embedding(20, 8)
classifier = nn.Linear(8, 2)


def embed(tokens):
    return embedding(tokens).mean(dim=1)


@torch.no_grad()
def pseudo_labels(tokens):
    # hard labels are targets: they should carry no gradient
    return classifier(embed(tokens)).argmax(dim=1)


def train_step(tokens, optimizer):
    targets = pseudo_labels(tokens)
    optimizer.zero_grad()
    logits = classifier(embed(tokens))
    loss = F.cross_entropy(logits, targets)
    loss.backward()
    optimizer.step()
    return loss.item()


opt = torch.optim.SGD(list(embedding.parameters()) + list(classifier.parameters()), lr=0.5)
tokens = torch.randint(0, 20, (6, 5))
start = embedding.weight.clone()
for _ in range(2):
    train_step(tokens, opt)

assert embedding.weight.grad is not None and embedding.weight.grad.abs().sum() > 0
assert not torch.equal(start, embedding.weight)
