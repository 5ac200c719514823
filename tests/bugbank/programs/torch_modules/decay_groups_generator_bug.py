"""Weight-decay param groups built from one `named_parameters()` generator: the first comprehension drains it, the no-decay group is empty, and every bias and LayerNorm parameter is left out of the optimizer.

Source: https://github.com/namisan/mt-dnn/pull/37
        https://github.com/huggingface/transformers/issues/492
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.optim import AdamW

NO_DECAY = ("bias", "norm.weight")


class TinyEncoder(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, 1)

    def forward(self, x):
        return self.out(self.norm(torch.relu(self.proj(x))))


def build_optimizer(model, lr=1e-2, weight_decay=0.01):
    named = model.named_parameters()  # BUG
    groups = [
        {"params": [p for n, p in named if not any(k in n for k in NO_DECAY)], "weight_decay": weight_decay},
        {"params": [p for n, p in named if any(k in n for k in NO_DECAY)], "weight_decay": 0.0},
    ]
    return AdamW(groups, lr=lr)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TinyEncoder()
    opt = build_optimizer(model)
    x, y = torch.randn(16, 8), torch.randn(16, 1)
    bias0 = model.proj.bias.detach().clone()
    gamma0 = model.norm.weight.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    assert model.proj.bias.grad.abs().sum() > 0
    assert torch.equal(bias0, model.proj.bias.detach())
    assert torch.equal(gamma0, model.norm.weight.detach())
