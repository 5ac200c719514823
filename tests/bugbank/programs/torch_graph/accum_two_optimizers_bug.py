"""Gradient accumulation with two optimizers clears both before every backward, so each step sees one micro-batch.

Source: https://github.com/tientrandinh/Revisiting-Reverse-Distillation/issues/12
Label: buggy
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
    for i, (x, y) in enumerate(batches):
        loss = F.mse_loss(model(x), y) / accumulation_steps
        opt_proj.zero_grad()  # BUG
        opt_head.zero_grad()  # BUG
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            seen.append(model.head.weight.grad.clone())
            opt_proj.step()
            opt_head.step()
    return seen


model = Student()
opt_proj = torch.optim.SGD(model.proj.parameters(), lr=0.1)
opt_head = torch.optim.SGD(model.head.parameters(), lr=0.1)
batches = [(torch.randn(4, 4), torch.randn(4, 1)) for _ in range(2)]

# The gradient both micro-batches should have summed into, from a copy of the start weights.
reference = Student()
reference.load_state_dict(model.state_dict())
for x, y in batches:
    (F.mse_loss(reference(x), y) / 2).backward()
last_only = Student()
last_only.load_state_dict(model.state_dict())
(F.mse_loss(last_only(batches[1][0]), batches[1][1]) / 2).backward()

seen = train(model, batches, opt_proj, opt_head)
assert torch.allclose(seen[0], last_only.head.weight.grad)
assert not torch.allclose(seen[0], reference.head.weight.grad)
