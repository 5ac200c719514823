"""A tiny attention scorer keeps its projection as `torch.randn(...) * 0.02`: not a Parameter, so Adam never sees it.

Source: https://github.com/SimonThomine/RememberingNormality/issues/7
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class KeyScorer(nn.Module):
    def __init__(self, dim, n_keys):
        super().__init__()
        self.query = nn.Linear(dim, dim)
        # small init, like the paper says
        self.keys = (torch.randn(n_keys, dim) * 0.02).requires_grad_()  # BUG

    def forward(self, x):
        q = self.query(x)
        scores = q @ self.keys.t()
        return F.log_softmax(scores, dim=-1)


def train_step(model, opt, x, y):
    opt.zero_grad()
    loss = F.nll_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = KeyScorer(8, 4)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(16, 8), torch.randint(0, 4, (16,))
    before = model.keys.detach().clone()
    for _ in range(3):
        train_step(model, opt, x, y)
    # the keys receive a gradient but are not in model.parameters(): never stepped
    assert all(p is not model.keys for p in model.parameters())
    assert model.keys.grad is not None
    assert torch.equal(before, model.keys.detach())
    assert model.query.weight.grad is not None
