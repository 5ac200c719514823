"""A training loop calls zero_grad(), then optimizer.step(), then loss.backward(): every step runs on gradients that were just cleared (set to None), so Adam skips every parameter and the model never changes.

Source: https://github.com/patrickloeber/pytorchTutorial/issues/19
        https://github.com/inyeoplee77/SAGPool/issues/15
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(4, 10)
        self.l2 = nn.Linear(10, 3)

    def forward(self, x):
        return self.l2(torch.relu(self.l1(x)))


def train(model, data, epochs=3):
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for epoch in range(epochs):
        for inputs, labels in data:
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            optimizer.zero_grad()
            optimizer.step()  # BUG
            loss.backward()
    return model


torch.manual_seed(0)
data = [(torch.randn(5, 4), torch.randint(0, 3, (5,))) for _ in range(4)]
model = Classifier()
start = [p.detach().clone() for p in model.parameters()]
train(model, data)
assert all(torch.equal(a, p) for a, p in zip(start, model.parameters()))
assert model.l1.weight.grad is not None  # the gradient exists, the step never used it
