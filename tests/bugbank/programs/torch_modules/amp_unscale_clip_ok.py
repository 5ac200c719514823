"""Mixed-precision training with a GradScaler: the gradients are unscaled, clipped by norm, then scaler.step() and scaler.update() apply them; a helper does the clipping between backward and step.

Source: https://github.com/milesial/Pytorch-UNet/issues/468
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn.functional as F
from torch import nn

MAX_NORM = 0.5


def clip_then_step(scaler, optimizer, params):
    scaler.unscale_(optimizer)
    norm = torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
    scaler.step(optimizer)
    scaler.update()
    return norm


def train(model, loader, optimizer, scaler):
    model.train()
    norms = []
    for x, y in loader:
        optimizer.zero_grad()
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        scaler.scale(loss).backward()
        norms.append(float(clip_then_step(scaler, optimizer, model.parameters())))
    return norms


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8)
    loader = [(torch.randn(6, 8), torch.randint(0, 3, (6,))) for _ in range(3)]
    w0 = model[0].weight.detach().clone()
    norms = train(model, loader, optimizer, scaler)
    assert all(n > 0 for n in norms), norms
    assert model[0].weight.grad is not None and model[0].weight.grad.abs().sum() > 0
    assert not torch.equal(w0, model[0].weight)
