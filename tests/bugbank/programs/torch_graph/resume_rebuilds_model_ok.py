"""A training script builds its optimizer and then resumes by loading the checkpoint into the same model in place (load_state_dict), so the optimizer still owns the trained parameters.

Source: https://github.com/CodefyUI/CodefyUI/pull/147
Label: clean
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


def restore(model, blob):
    model.load_state_dict(torch.load(io.BytesIO(blob)))
    return model


def main():
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(Regressor().state_dict(), buf)

    model = Regressor()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model = restore(model, buf.getvalue())

    x, y = torch.randn(6, 3), torch.randn(6, 1)
    before = model.fc1.weight.detach().clone()
    for _ in range(2):
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    assert not torch.equal(before, model.fc1.weight)


if __name__ == "__main__":
    main()
