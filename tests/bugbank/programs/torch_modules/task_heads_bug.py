"""A multi-task model keeps its per-task heads in a plain dict: the heads are invisible to the optimizer and never learn.

Source: https://runebook.dev/zh/docs/pytorch/generated/torch.nn.modulelist/torch.nn.ModuleList
Label: buggy
Family: params
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F

TASKS = {"sentiment": 3, "topic": 5}


class MultiTask(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(10, d), nn.ReLU())
        self.heads = {name: nn.Linear(d, k) for name, k in TASKS.items()}  # BUG

    def forward(self, x, task):
        return self.heads[task](self.encoder(x))


def main():
    torch.manual_seed(0)
    model = MultiTask(16)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    snap = {t: h.weight.detach().clone() for t, h in model.heads.items()}
    for step in range(4):
        task = "sentiment" if step % 2 == 0 else "topic"
        x = torch.randn(8, 10)
        y = torch.randint(0, TASKS[task], (8,))
        opt.zero_grad()
        F.cross_entropy(model(x, task), y).backward()
        opt.step()
    for t, h in model.heads.items():
        assert torch.equal(snap[t], h.weight.detach()), t
    assert not any(n.startswith("heads") for n, _ in model.named_parameters())


if __name__ == "__main__":
    main()
