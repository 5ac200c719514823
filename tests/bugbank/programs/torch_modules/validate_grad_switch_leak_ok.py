"""Validation without gradients in three scoped forms (`@torch.no_grad()` decorator, `with torch.set_grad_enabled(False):` and `torch.inference_mode()` on a copy of the metrics): training after each evaluation still builds its graph and learns.

Source: https://github.com/whr94621/NJUNMT-pytorch/pull/16
Label: clean
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn


@torch.no_grad()
def accuracy(model, x, y):
    return (model(x).argmax(1) == y).float().mean().item()


def val_loss(model, x, y, is_train=False):
    with torch.set_grad_enabled(is_train):
        return nn.functional.cross_entropy(model(x), y).item()


def predictions(model, x):
    with torch.inference_mode():
        return model(x).softmax(-1)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
    w0 = model[0].weight.detach().clone()
    for epoch in range(3):
        model.train()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        model.eval()
        accuracy(model, x, y)
        val_loss(model, x, y)
        predictions(model, x)
    assert torch.is_grad_enabled()
    assert model[0].weight.grad.abs().sum() > 0
    assert not torch.equal(w0, model[0].weight.detach())
