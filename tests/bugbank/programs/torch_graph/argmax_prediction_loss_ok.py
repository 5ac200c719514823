"""A classifier trains on cross-entropy; argmax predictions feed only the accuracy it reports.

Source: https://forums.fast.ai/t/why-does-the-nll-has-grad-fn-while-accuracy-doesnt/50891
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return self.net(x)


def accuracy(logits, labels):
    preds = logits.argmax(dim=1)
    return (preds == labels).float().mean()


torch.manual_seed(0)
model = Classifier()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()
x, y = torch.randn(12, 4), torch.randint(0, 3, (12,))
start = model.net[0].weight.clone()
accs = []
for _ in range(2):
    logits = model(x)
    loss = loss_fn(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    accs.append(accuracy(logits, y).item())

assert model.net[0].weight.grad is not None and model.net[0].weight.grad.abs().sum() > 0
assert not torch.equal(start, model.net[0].weight)
