"""FGSM adversarial training: autograd.grad on the input (no create_graph) only builds the perturbation, a constant by design.

Source: https://github.com/cleverhans-lab/cleverhans/issues/243
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 12), nn.Tanh())
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        return self.head(self.body(x))


def fgsm(model, x, y, eps):
    x = x.clone().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (grad_x,) = torch.autograd.grad(loss, x)
    return (x + eps * grad_x.sign()).detach()


def train_step(model, opt, x, y, eps=0.1):
    x_adv = fgsm(model, x, y, eps)
    opt.zero_grad()
    loss = 0.5 * F.cross_entropy(model(x), y) + 0.5 * F.cross_entropy(model(x_adv), y)
    loss.backward()
    opt.step()
    return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = SmallNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(10, 6)
    y = torch.randint(0, 3, (10,))
    before = model.body[0].weight.detach().clone()
    train_step(model, opt, x, y)
    assert model.body[0].weight.grad is not None
    assert model.body[0].weight.grad.abs().sum() > 0
    assert not torch.equal(before, model.body[0].weight)
