"""A training script builds its optimizer, then "resumes" by building a fresh model from the checkpoint and rebinding model, so the optimizer keeps stepping the discarded model's parameters.

Source: https://github.com/CodefyUI/CodefyUI/pull/147
Label: buggy
Family: loop
Frameworks: torch
"""
import io

import torch
import torch.nn as nn
import torch.nn.functional as F


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 5)
        self.fc2 = nn.Linear(5, 1)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def restore(blob):
    fresh = Regressor()
    fresh.load_state_dict(torch.load(io.BytesIO(blob)))
    return fresh


def main():
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(Regressor().state_dict(), buf)

    model = Regressor()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # BUG
    model = restore(buf.getvalue())  # BUG

    x, y = torch.randn(6, 3), torch.randn(6, 1)
    before = model.fc1.weight.detach().clone()
    for _ in range(2):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    assert model.fc1.weight.grad is not None
    assert torch.equal(before, model.fc1.weight)


if __name__ == "__main__":
    main()
