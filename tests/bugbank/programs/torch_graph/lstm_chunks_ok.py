"""Truncated BPTT: a chunked LSTM language model detaches only the carried (h, c) state between chunks.

Source: https://github.com/yunjey/pytorch-tutorial/issues/90
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class CharLM(nn.Module):
    def __init__(self, vocab=12, hidden=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.lstm = nn.LSTM(8, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens, state):
        h, state = self.lstm(self.embed(tokens), state)
        return self.out(h), state


def repackage(state):
    return tuple(s.detach() for s in state)


torch.manual_seed(0)
model = CharLM()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()
seq = torch.randint(0, 12, (2, 13))
state = None
start = model.lstm.weight_ih_l0.clone()
for i in range(0, 12, 4):
    inputs, targets = seq[:, i:i + 4], seq[:, i + 1:i + 5]
    if state is not None:
        state = repackage(state)
    logits, state = model(inputs, state)
    loss = criterion(logits.reshape(-1, 12), targets.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()

assert model.lstm.weight_ih_l0.grad is not None and model.lstm.weight_ih_l0.grad.abs().sum() > 0
assert not torch.equal(start, model.lstm.weight_ih_l0)
