"""Gradient accumulation with two optimizers: both are cleared only after their step, so gradients sum over micro-batches.

Source: https://github.com/tientrandinh/Revisiting-Reverse-Distillation/issues/12
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class Student(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 8)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(torch.relu(self.proj(x)))


def train(model, batches, opt_proj, opt_head, accumulation_steps=2):
    model.train()
    seen = []
    opt_proj.zero_grad()
    opt_head.zero_grad()
    for i, (x, y) in enumerate(batches):
        loss = F.mse_loss(model(x), y) / accumulation_steps
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            seen.append(model.head.weight.grad.clone())
            opt_proj.step()
            opt_head.step()
            opt_proj.zero_grad()
            opt_head.zero_grad()
    return seen


model = Student()
opt_proj = torch.optim.SGD(model.proj.parameters(), lr=0.1)
opt_head = torch.optim.SGD(model.head.parameters(), lr=0.1)
batches = [(torch.randn(4, 4), torch.randn(4, 1)) for _ in range(2)]

reference = Student()
reference.load_state_dict(model.state_dict())
for x, y in batches:
    (F.mse_loss(reference(x), y) / 2).backward()

seen = train(model, batches, opt_proj, opt_head)
assert torch.allclose(seen[0], reference.head.weight.grad)
assert seen[0].abs().sum() > 0
