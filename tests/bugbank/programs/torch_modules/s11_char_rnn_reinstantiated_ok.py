"""Notebook-style name classifier: the RNN is trained with its optimizer, then a fresh instance is built and loaded from the best saved state for evaluation under no_grad; rebinding after training is not a training bug.

Source: https://github.com/spro/practical-pytorch/issues/21
        https://github.com/pytorch/tutorials/pull/86
Label: clean
Family: loop
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn

torch.manual_seed(0)
n_letters, n_hidden, n_categories = 5, 8, 3


# %% model
class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.i2o = nn.Linear(input_size + hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, inp, hidden):
        combined = torch.cat((inp, hidden), 1)
        return self.softmax(self.i2o(combined)), torch.tanh(self.i2h(combined))

    def init_hidden(self):
        return torch.zeros(1, self.hidden_size)


rnn = RNN(n_letters, n_hidden, n_categories)

# %% training helpers
criterion = nn.NLLLoss()
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.005)


def train(category_tensor, line_tensor):
    hidden = rnn.init_hidden()
    optimizer.zero_grad()
    for i in range(line_tensor.size(0)):
        output, hidden = rnn(line_tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    optimizer.step()
    return output, loss.item()


# %% run
before = rnn.i2o.weight.detach().clone()
best_loss, best_state = float("inf"), None
for it in range(3):
    line = torch.eye(n_letters)[torch.randint(0, n_letters, (4,))].unsqueeze(1)
    category = torch.tensor([it % n_categories])
    output, loss = train(category, line)
    if loss < best_loss:
        best_loss, best_state = loss, copy.deepcopy(rnn.state_dict())
assert rnn.i2o.weight.grad.abs().sum() > 0
assert not torch.equal(before, rnn.i2o.weight)

# %% evaluate the best checkpoint in a fresh instance
rnn = RNN(n_letters, n_hidden, n_categories)
rnn.load_state_dict(best_state)
rnn.eval()
with torch.no_grad():
    hidden = rnn.init_hidden()
    for row in torch.eye(n_letters)[:3].unsqueeze(1):
        output, hidden = rnn(row, hidden)
assert output.shape == (1, n_categories)
