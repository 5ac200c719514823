"""Mixed-precision training with gradient accumulation: the GradScaler scales every micro-batch's loss, and unscale/clip/step/update/zero_grad run only at the accumulation boundary; every weight trains.

Source: https://github.com/pytorch/pytorch/pull/36601
Label: clean
Family: loop
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F

ACCUM = 4


def make_model():
    return nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 3))


def micro_loss(model, xb, yb):
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=False):
        logits = model(xb)
        return F.cross_entropy(logits, yb) / ACCUM


def train_epoch(model, optimizer, scaler, batches, log):
    model.train()
    for i, (xb, yb) in enumerate(batches):
        loss = micro_loss(model, xb, yb)
        scaler.scale(loss).backward()
        log.append(loss.item() * ACCUM)
        if (i + 1) % ACCUM == 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    batches = [(torch.randn(5, 8), torch.randint(0, 3, (5,))) for _ in range(8)]
    before = [p.detach().clone() for p in model.parameters()]
    log = []
    train_epoch(model, optimizer, scaler, batches[:ACCUM], log)
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    # the accumulated gradient arrives on every weight within one window
    for xb, yb in batches[ACCUM:]:
        scaler.scale(micro_loss(model, xb, yb)).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    assert len(log) == ACCUM
