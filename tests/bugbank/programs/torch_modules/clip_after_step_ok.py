"""Mixed-precision style step with clipping in the right place: scale, backward, unscale, clip, then the scaler steps the optimizer; the clip bounds the update and the weights still move.

Source: https://github.com/awslabs/graphstorm/issues/1366
        https://github.com/princeton-vl/RAFT/issues/104
Label: clean
Family: loop
Frameworks: torch
"""
import torch
from torch import nn

MAX_NORM = 0.01
LR = 0.1


def train_step(model, optimizer, scaler, x, y):
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.mse_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
    scaler.step(optimizer)
    scaler.update()
    return loss.item(), grad_norm.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    x, y = torch.randn(16, 4), 10 * torch.randn(16, 1)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    _, norm = train_step(model, optimizer, scaler, x, y)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    step = (after - before).norm()
    assert norm > MAX_NORM and model.weight.grad.abs().sum() > 0
    assert 0 < step <= LR * MAX_NORM * 1.001
