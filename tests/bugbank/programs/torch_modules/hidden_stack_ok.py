"""An MLP keeps its hidden layers in nn.ModuleList: every layer is registered and trained.

Source: https://www.engineermaxxing.com/micro/lessons/pytorch-internals.html
Label: clean
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn


class DeepMLP(nn.Module):
    def __init__(self, d_in, hidden, n_hidden, d_out):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(d_in, hidden)])
        for _ in range(n_hidden - 1):
            self.hidden.append(nn.Linear(hidden, hidden))
        self.head = nn.Linear(hidden, d_out)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.head(x)


torch.manual_seed(0)
net = DeepMLP(5, 8, 3, 2)
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
loss_fn = nn.MSELoss()
x, y = torch.randn(12, 5), torch.randn(12, 2)
w_first = net.hidden[0].weight.detach().clone()
for epoch in range(3):
    optimizer.zero_grad()
    loss = loss_fn(net(x), y)
    loss.backward()
    optimizer.step()

assert len(list(net.parameters())) == 8
assert net.hidden[0].weight.grad.abs().sum() > 0
assert not torch.equal(w_first, net.hidden[0].weight.detach())
