"""A refactored RNN base class builds its optimizer lazily, on the first training batch, from self.parameters(): the subclass's recurrent cell and output layer, added after super().__init__(), are in it and train.

Source: https://github.com/pytorch/pytorch/issues/14467
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn


class BracketRNN(nn.Module):
    def __init__(self, vocab, hidden, lr=0.05):
        super().__init__()
        self.hidden = hidden
        self.lr = lr
        self.embed = nn.Embedding(vocab, hidden)
        self.optimizer = None
        self.criterion = nn.BCEWithLogitsLoss()

    def step_state(self, x, h):
        raise NotImplementedError

    def forward(self, tokens):
        h = torch.zeros(tokens.shape[0], self.hidden)
        for t in range(tokens.shape[1]):
            h = self.step_state(self.embed(tokens[:, t]), h)
        return self.readout(h).squeeze(-1)

    def fit_batch(self, tokens, labels):
        if self.optimizer is None:
            self.optimizer = torch.optim.SGD(self.parameters(), lr=self.lr)
        self.optimizer.zero_grad()
        loss = self.criterion(self(tokens), labels)
        loss.backward()
        self.optimizer.step()
        return loss.item()


class ElmanBracketRNN(BracketRNN):
    def __init__(self, vocab, hidden):
        super().__init__(vocab, hidden)
        self.cell = nn.RNNCell(hidden, hidden)
        self.readout = nn.Linear(hidden, 1)

    def step_state(self, x, h):
        return self.cell(x, h)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = ElmanBracketRNN(vocab=6, hidden=8)
    tokens = torch.randint(0, 6, (4, 5))
    labels = torch.randint(0, 2, (4,)).float()
    before = net.readout.weight.detach().clone()
    for _ in range(2):
        net.fit_batch(tokens, labels)
    assert net.readout.weight.grad.abs().sum() > 0
    assert not torch.equal(before, net.readout.weight)
