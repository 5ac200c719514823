"""A notebook-style loop collects each batch loss with .item() and backpropagates torch.tensor(batch_losses, requires_grad=True).mean(): nothing trains.

Source: https://github.com/DeepRank/deeprank/issues/210
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1))
loss_fn = nn.BCEWithLogitsLoss()
opt = torch.optim.SGD(net.parameters(), lr=0.5)
data = [(torch.randn(6, 5), torch.randint(0, 2, (6, 1)).float()) for _ in range(3)]
start = net[0].weight.detach().clone()

for epoch in range(2):
    batch_losses = []
    for xb, yb in data:
        logits = net(xb)
        batch_losses.append(loss_fn(logits, yb).item())
    epoch_loss = torch.tensor(batch_losses, requires_grad=True).mean()  # BUG
    opt.zero_grad()
    epoch_loss.backward()
    opt.step()

assert net[0].weight.grad is None
assert torch.equal(net[0].weight, start)
