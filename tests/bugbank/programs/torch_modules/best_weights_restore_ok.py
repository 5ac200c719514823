"""Each epoch trains, then validates under eval() and no_grad(); the best weights are kept as a deep copy of the state_dict and loaded back in place with load_state_dict, so the optimizer still holds the model's own parameters and training continues.

Source: https://github.com/pytorch/tutorials/pull/188
Label: clean
Family: loop
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Dropout(0.1))
        self.out = nn.Linear(12, 2)

    def forward(self, x):
        return self.out(self.body(x))


@torch.no_grad()
def evaluate(model, x, y):
    model.eval()
    return F.cross_entropy(model(x), y).item()


def run(epochs=4):
    torch.manual_seed(0)
    x_tr, y_tr = torch.randn(32, 6), torch.randint(0, 2, (32,))
    x_va, y_va = torch.randn(16, 6), torch.randint(0, 2, (16,))
    model = SmallNet()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    best_loss, best_state = float("inf"), copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        model.train()
        for i in range(0, 32, 8):
            opt.zero_grad()
            loss = F.cross_entropy(model(x_tr[i:i + 8]), y_tr[i:i + 8])
            loss.backward()
            opt.step()
        val = evaluate(model, x_va, y_va)
        if val < best_loss:
            best_loss, best_state = val, copy.deepcopy(model.state_dict())
        elif epoch % 2 == 1:
            model.load_state_dict(best_state)  # roll back, same Parameter objects
    return model, opt


model, opt = run()
held = {id(p) for g in opt.param_groups for p in g["params"]}
assert all(id(p) in held for p in model.parameters())
w0 = model.out.weight.detach().clone()
model.train()
opt.zero_grad()
F.cross_entropy(model(torch.randn(4, 6)), torch.tensor([0, 1, 1, 0])).backward()
assert model.body[0].weight.grad.abs().sum() > 0
opt.step()
assert not torch.equal(w0, model.out.weight)
