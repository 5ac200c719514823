"""Notebook-style name classifier: a cell creates the RNN and the optimizer, a later cell creates the RNN again before the training loop; train() uses the new global rnn while the optimizer still holds the first one's parameters, so the trained network never changes.

Source: https://github.com/spro/practical-pytorch/issues/21
        https://github.com/pytorch/tutorials/pull/86
Label: buggy
Family: loop
Frameworks: torch
"""
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
optimizer = torch.optim.SGD(rnn.parameters(), lr=0.005)  # BUG


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
rnn = RNN(n_letters, n_hidden, n_categories)  # BUG
before = rnn.i2o.weight.detach().clone()
for it in range(3):
    line = torch.eye(n_letters)[torch.randint(0, n_letters, (4,))].unsqueeze(1)
    category = torch.tensor([it % n_categories])
    output, loss = train(category, line)

assert rnn.i2o.weight.grad.abs().sum() > 0  # the gradient reaches the new rnn ...
assert torch.equal(before, rnn.i2o.weight)  # ... but the optimizer steps the old one
