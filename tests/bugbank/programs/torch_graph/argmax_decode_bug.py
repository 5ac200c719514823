"""A label decoder object turns logits into argmax class ids and the loss compares those ids with the targets: backward raises.

Source: https://php.bkmy88.com/faq/1835025.html
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn


class LabelDecoder:
    def __init__(self, classes):
        self.classes = classes

    def decode(self, logits):
        return torch.softmax(logits, dim=1).argmax(dim=1).type(torch.float32)  # BUG


def accuracy(y_true, y_pred):
    return (y_true == y_pred).float().mean().item() * 100


torch.manual_seed(0)
X_train = torch.randn(20, 4)
y_train = torch.randint(0, 3, (20,)).float()
model = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 3))
decoder = LabelDecoder(["a", "b", "c"])
loss_fn = nn.L1Loss()
optimiser = torch.optim.SGD(model.parameters(), lr=0.1)

raised = False
for epoch in range(2):
    model.train()
    train_logits = model(X_train)
    train_preds = decoder.decode(train_logits)
    loss = loss_fn(train_preds, y_train)
    train_acc = accuracy(y_train, train_preds)
    optimiser.zero_grad()
    try:
        loss.backward()
    except RuntimeError as err:
        assert "does not require grad" in str(err)
        raised = True
        break
    optimiser.step()

assert raised
assert model[0].weight.grad is None
