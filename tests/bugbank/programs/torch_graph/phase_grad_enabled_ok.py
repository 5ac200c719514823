"""A train/val phase loop enables grad only in the training phase and steps there.

Source: https://github.com/piergiaj/pytorch-i3d/issues/57
Label: clean
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

start = model[0].weight.clone()
for phase in ["train", "val"]:
    model.train(phase == "train")
    for inputs, labels in loaders[phase]:
        optimizer.zero_grad()
        with torch.set_grad_enabled(phase == "train"):
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            if phase == "train":
                loss.backward()
                grad_norm = model[0].weight.grad.abs().sum().item()
                optimizer.step()

assert grad_norm > 0
assert not torch.equal(start, model[0].weight)
