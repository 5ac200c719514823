"""An AMP training script accumulates gradients over micro-batches; gradients are cleared only after the scaler steps the optimizer, so each step sees the sum over its micro-batches.

Source: https://github.com/bytetriper/RAE/issues/67
        https://github.com/huggingface/accelerate/issues/1299
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn.functional as F
from torch import nn

ACCUM = 4


def micro_step(net, scaler, xb, yb):
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=False):
        loss = F.mse_loss(net(xb), yb) / ACCUM
    scaler.scale(loss).backward()
    return loss.detach()


def train(net, opt, scaler, xs, ys):
    opt.zero_grad(set_to_none=True)
    for i in range(len(xs)):
        micro_step(net, scaler, xs[i], ys[i])
        if (i + 1) % ACCUM == 0:
            grad_seen = net.weight.grad.clone()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            return grad_seen


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Linear(3, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    xs, ys = torch.randn(ACCUM, 4, 3), torch.randn(ACCUM, 4, 1)

    ref = nn.Linear(3, 1)
    ref.load_state_dict(net.state_dict())
    full = sum(F.mse_loss(ref(xs[i]), ys[i]) / ACCUM for i in range(ACCUM))
    full.backward()

    seen = train(net, opt, scaler, xs, ys)
    assert torch.allclose(seen, ref.weight.grad, atol=1e-6)
