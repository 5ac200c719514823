"""A script stores model.parameters() in a variable, counts the parameters from it for a log line, then hands the same (now exhausted) generator to the optimizer: the optimizer gets no parameters and PyTorch raises "optimizer got an empty parameter list".

Source: https://github.com/YanaiEliyahu/AdasOptimizer/issues/2
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
for p in model[0].parameters():
    p.requires_grad = False  # keep the first layer fixed

params = filter(lambda p: p.requires_grad, model.parameters())  # BUG
n_trainable = sum(p.numel() for p in params)
print_line = f"trainable parameters: {n_trainable}"

try:
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)  # BUG
except ValueError as err:
    assert "empty parameter list" in str(err)
else:
    raise AssertionError("the optimizer was built")
