"""The input projection is created inside forward because the feature size is only known there: a fresh random layer every call, none of them in the optimizer.

Source: https://thecodeforge.io/ml-ai/pytorch-neural-network/
Label: buggy
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.d_model = d_model
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x):
        self.proj = nn.Linear(x.shape[-1], self.d_model)  # BUG
        return self.norm(self.proj(x))


def train(model, batches):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in batches:
        opt.zero_grad()
        loss = (model(x).mean(dim=-1) - y).pow(2).mean()
        loss.backward()
        opt.step()
    return opt


torch.manual_seed(0)
enc = Encoder(8)
enc(torch.randn(2, 5))  # dry run to "build" the projection
batches = [(torch.randn(6, 5), torch.randn(6)) for _ in range(3)]
opt = train(enc, batches)
held = {id(p) for g in opt.param_groups for p in g["params"]}
first_proj = enc.proj
enc(torch.randn(2, 5))
assert enc.proj is not first_proj  # replaced on every call
assert id(enc.proj.weight) not in held  # the weight in use was never given to the optimizer
