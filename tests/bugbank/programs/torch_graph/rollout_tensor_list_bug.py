"""A rollout collects per-step predictions in a list and packs them with torch.tensor, which copies values and drops the graph.

Source: https://discuss.pytorch.org/t/gradient-is-lost-when-use-torch-tensor-t1-t2/23261
Label: buggy
Family: graph
Frameworks: torch
"""
import warnings

import torch
import torch.nn as nn

warnings.filterwarnings("ignore", category=UserWarning)
torch.manual_seed(0)


class StepModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = nn.Linear(2, 1)

    def forward(self, state, u):
        return self.cell(torch.stack([state, u]).unsqueeze(0)).squeeze()


def rollout(model, x0, controls):
    state = x0
    trajectory = []
    for u in controls:
        state = model(state, u)
        trajectory.append(state)
    return torch.tensor(trajectory)  # BUG


model = StepModel()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
controls = torch.randn(5)
target = torch.linspace(0.0, 1.0, 5)

optimizer.zero_grad()
predicted = rollout(model, torch.tensor(0.5), controls)
loss = ((predicted - target) ** 2).mean()
assert not loss.requires_grad
try:
    loss.backward()
except RuntimeError as err:
    assert "does not require grad" in str(err)
else:
    raise AssertionError("backward through torch.tensor(list) succeeded")
assert model.cell.weight.grad is None
