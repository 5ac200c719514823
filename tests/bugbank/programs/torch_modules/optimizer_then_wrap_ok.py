"""The optimizer is built first and the model is rebound afterwards by `.to(device)`, a DataParallel wrapper and a `load_state_dict` of a checkpoint: all keep the same Parameter objects, so the optimizer still updates the weights the loss uses.

Source: https://theneuralbase.com/pytorch/learn/intermediate/moving-model-and-data-to-device/
Label: clean
Family: loop
Frameworks: torch
"""
import io

import torch
import torch.nn as nn


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 1))

    def forward(self, x):
        return self.body(x)


def checkpoint_bytes(model):
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    return buf


if __name__ == "__main__":
    torch.manual_seed(0)
    device = torch.device("cpu")
    model = Regressor()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    saved = checkpoint_bytes(model)
    model = model.to(device)
    model = nn.DataParallel(model)
    model.module.load_state_dict(torch.load(saved))
    x, y = torch.randn(12, 6, device=device), torch.randn(12, 1, device=device)
    w0 = model.module.body[0].weight.detach().clone()
    for _ in range(3):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    assert model.module.body[0].weight.grad.abs().sum() > 0
    assert not torch.equal(w0, model.module.body[0].weight.detach())
