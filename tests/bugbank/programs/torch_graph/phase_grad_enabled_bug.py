"""A train/val phase loop enables grad with the condition inverted, so the training phase runs without a graph.

Source: https://github.com/piergiaj/pytorch-i3d/issues/57
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
loaders = {"train": [(torch.randn(4, 5), torch.randint(0, 2, (4,)))],
           "val": [(torch.randn(4, 5), torch.randint(0, 2, (4,)))]}

raised = None
for phase in ["train", "val"]:
    model.train(phase == "train")
    for inputs, labels in loaders[phase]:
        optimizer.zero_grad()
        with torch.set_grad_enabled(phase != "train"):  # BUG
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            if phase == "train":
                try:
                    loss.backward()
                    optimizer.step()
                except RuntimeError as err:
                    raised = err

assert raised is not None and "does not require grad" in str(raised)
assert model[0].weight.grad is None
assert torch.is_grad_enabled()
