"""A chunked LSTM language model detaches the LSTM output instead of the carried state; the LSTM never trains.

Source: https://github.com/yunjey/pytorch-tutorial/issues/90
Label: buggy
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
        return self.out(h.detach()), state  # BUG


torch.manual_seed(0)
model = CharLM()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
criterion = nn.CrossEntropyLoss()
seq = torch.randint(0, 12, (2, 13))
state = None
for i in range(0, 12, 4):
    inputs, targets = seq[:, i:i + 4], seq[:, i + 1:i + 5]
    logits, state = model(inputs, state)
    state = tuple(s.detach() for s in state)
    loss = criterion(logits.reshape(-1, 12), targets.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()

assert model.lstm.weight_ih_l0.grad is None
assert model.embed.weight.grad is None
assert model.out.weight.grad is not None
