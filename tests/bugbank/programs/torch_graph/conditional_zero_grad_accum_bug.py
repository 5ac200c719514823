"""An update function clears gradients under the same condition as the step, just before backward, so accumulation keeps one batch.

Source: https://github.com/pytorch/ignite/issues/583
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
from torch import nn

torch.manual_seed(0)
ACCUMULATION_STEPS = 3

model = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1))
criterion = nn.MSELoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
grads_at_step = []


def update_fn(iteration, batch):
    model.train()
    if iteration % ACCUMULATION_STEPS == 0:
        optimizer.zero_grad()  # BUG
    x, y = batch
    loss = criterion(model(x), y) / ACCUMULATION_STEPS
    loss.backward()
    if iteration % ACCUMULATION_STEPS == 0:
        grads_at_step.append(model[2].weight.grad.clone())
        optimizer.step()
    return loss.item()


data = [(torch.randn(5, 3), torch.randn(5, 1)) for _ in range(3)]
start = {k: v.clone() for k, v in model.state_dict().items()}

# Gradient of the third batch alone, at the start weights (no step happens before it).
probe = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 1))
probe.load_state_dict(start)
(criterion(probe(data[2][0]), data[2][1]) / ACCUMULATION_STEPS).backward()
third_only = probe[2].weight.grad.clone()
for x, y in data[:2]:
    (criterion(probe(x), y) / ACCUMULATION_STEPS).backward()
all_three = probe[2].weight.grad.clone()

for iteration, batch in enumerate(data, start=1):
    update_fn(iteration, batch)

assert len(grads_at_step) == 1
assert torch.allclose(grads_at_step[0], third_only)
assert not torch.allclose(grads_at_step[0], all_three)
