"""A temperature for calibration is marked trainable with `t.require_grad = True` (typo): Python just adds an attribute, the temperature gets no gradient and stays at 1.

Source: https://github.com/codertimo/BERT-pytorch/pull/104
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
classifier = nn.Linear(6, 4)

temperature = torch.ones(1)
temperature.require_grad = True  # BUG

opt = torch.optim.SGD(list(classifier.parameters()) + [temperature], lr=0.1)

x = torch.randn(32, 6)
y = torch.randint(0, 4, (32,))
for it in range(3):
    opt.zero_grad()
    logits = classifier(x) / temperature
    loss = F.cross_entropy(logits, y)
    loss.backward()
    opt.step()

assert temperature.requires_grad is False
assert temperature.grad is None
assert temperature.item() == 1.0
assert classifier.weight.grad is not None
