"""A classifier's loss is the mismatch of argmax predictions; requires_grad=True on the loss hides the cut.

Source: https://forums.fast.ai/t/why-does-the-nll-has-grad-fn-while-accuracy-doesnt/50891
Label: buggy
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


def error_rate(logits, labels):
    preds = logits.argmax(dim=1)  # BUG
    return (preds != labels).float().mean()


torch.manual_seed(0)
model = Classifier()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(12, 4), torch.randint(0, 3, (12,))
start = [p.clone() for p in model.parameters()]
for _ in range(2):
    loss = error_rate(model(x), y)
    loss.requires_grad = True  # BUG
    opt.zero_grad()
    loss.backward()
    opt.step()

assert all(p.grad is None for p in model.parameters())
assert all(torch.equal(a, b) for a, b in zip(start, model.parameters()))
