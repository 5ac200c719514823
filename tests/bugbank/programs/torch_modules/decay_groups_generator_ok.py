"""Weight-decay param groups built from a list of `named_parameters()` (read twice safely) and, in a second helper, from a dict keyed by name: decayed weights and undecayed biases/norms all train.

Source: https://github.com/namisan/mt-dnn/pull/37
Label: clean
Family: loop
Frameworks: torch
"""
import torch
from torch import nn


class TinyEncoder(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, 1)

    def forward(self, x):
        return self.out(self.norm(torch.relu(self.proj(x))))


def grouped_by_name(model, wd=0.01):
    params = list(model.named_parameters())
    skip = ["bias", "norm"]
    return [
        {"params": [p for n, p in params if not any(s in n for s in skip)], "weight_decay": wd},
        {"params": [p for n, p in params if any(s in n for s in skip)], "weight_decay": 0.0},
    ]


def grouped_by_rank(model, wd=0.01):
    by_name = {n: p for n, p in model.named_parameters() if p.requires_grad}
    return [
        {"params": [p for p in by_name.values() if p.dim() >= 2], "weight_decay": wd},
        {"params": [p for p in by_name.values() if p.dim() < 2], "weight_decay": 0.0},
    ]


if __name__ == "__main__":
    for make_groups in (grouped_by_name, grouped_by_rank):
        torch.manual_seed(0)
        model = TinyEncoder()
        opt = torch.optim.AdamW(make_groups(model), lr=1e-2)
        x, y = torch.randn(16, 8), torch.randn(16, 1)
        b0, g0 = model.proj.bias.detach().clone(), model.norm.weight.detach().clone()
        for _ in range(3):
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        assert model.proj.bias.grad.abs().sum() > 0
        assert not torch.equal(b0, model.proj.bias.detach())
        assert not torch.equal(g0, model.norm.weight.detach())
