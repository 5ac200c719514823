"""Notebook cells score each generated sentence with a Python-float helper and rebuild the batch loss with `torch.tensor(scores, requires_grad=True)`: the language model never trains.

Source: https://github.com/huggingface/transformers/issues/7130
Label: buggy
Family: graph
Frameworks: torch
"""
import math
import warnings

import torch
from torch import nn

# %% model
warnings.simplefilter("ignore", UserWarning)
torch.manual_seed(0)
vocab, dim = 11, 8
lm = nn.Sequential(nn.Embedding(vocab, dim), nn.Linear(dim, vocab))
optimizer = torch.optim.AdamW(lm.parameters(), lr=1e-2)
sentences = torch.randint(0, vocab, (3, 6))


# %% scoring helper: mean negative log-likelihood of one sentence
def eval_sentence(log_probs, tokens):
    total = 0.0
    for t in range(tokens.shape[0] - 1):
        total -= float(log_probs[t, tokens[t + 1]])  # BUG
    return total / max(1, tokens.shape[0] - 1)


# %% training cell
before = lm[1].weight.detach().clone()
for step in range(2):
    optimizer.zero_grad()
    log_probs = torch.log_softmax(lm(sentences), dim=-1)
    scores = [eval_sentence(log_probs[i], sentences[i]) for i in range(sentences.shape[0])]
    sentence_loss = torch.tensor(scores, requires_grad=True).mean()  # BUG
    sentence_loss.backward()
    optimizer.step()
    assert not math.isnan(sentence_loss.item())

# %% check
assert lm[1].weight.grad is None
assert torch.equal(before, lm[1].weight)
