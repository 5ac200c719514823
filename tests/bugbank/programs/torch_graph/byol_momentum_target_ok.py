"""BYOL: the target branch runs under no_grad in a method and is moved by an EMA of the online weights.

Source: https://github.com/Lightning-Universe/lightning-bolts/issues/801
Label: clean
Family: graph
Frameworks: torch
"""
import copy

import torch
from torch import nn
import torch.nn.functional as F


def mlp(dim_in, dim_out):
    return nn.Sequential(nn.Linear(dim_in, 16), nn.ReLU(), nn.Linear(16, dim_out))


class BYOL(nn.Module):
    def __init__(self, tau=0.9):
        super().__init__()
        self.online = nn.Sequential(mlp(6, 8), mlp(8, 4))
        self.predictor = mlp(4, 4)
        self.target = copy.deepcopy(self.online)
        for p in self.target.parameters():
            p.requires_grad = False
        self.tau = tau

    def target_projection(self, view):
        with torch.no_grad():
            return self.target(view)

    @torch.no_grad()
    def update_target(self):
        for online_p, target_p in zip(self.online.parameters(), self.target.parameters()):
            target_p.data = self.tau * target_p.data + (1 - self.tau) * online_p.data

    def loss(self, view_a, view_b):
        pred_a = self.predictor(self.online(view_a))
        pred_b = self.predictor(self.online(view_b))
        z_a = self.target_projection(view_a)
        z_b = self.target_projection(view_b)
        loss_ab = 2 - 2 * F.cosine_similarity(pred_a, z_b, dim=-1).mean()
        loss_ba = 2 - 2 * F.cosine_similarity(pred_b, z_a, dim=-1).mean()
        return loss_ab + loss_ba


torch.manual_seed(0)
model = BYOL()
trainable = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.SGD(trainable, lr=0.1)
first_layer = model.online[0][0].weight
start = first_layer.detach().clone()
target_start = model.target[0][0].weight.detach().clone()
x = torch.randn(8, 6)
for step in range(2):
    view_a = x + 0.1 * torch.randn_like(x)
    view_b = x + 0.1 * torch.randn_like(x)
    loss = model.loss(view_a, view_b)
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.update_target()

assert first_layer.grad is not None and first_layer.grad.abs().sum() > 0
assert not torch.equal(start, first_layer)
assert not torch.equal(target_start, model.target[0][0].weight)
assert model.target[0][0].weight.grad is None
