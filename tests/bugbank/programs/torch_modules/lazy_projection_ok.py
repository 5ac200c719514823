"""The input projection is built once, on the first call, and a dry run materialises it before the optimizer is created: it is registered and trained.

Source: https://thecodeforge.io/ml-ai/pytorch-neural-network/
Label: clean
Family: params
Frameworks: torch
"""
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.d_model = d_model
        self.proj = None
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x):
        if self.proj is None:
            self.proj = nn.Linear(x.shape[-1], self.d_model)
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
enc(torch.randn(2, 5))  # dry run builds the projection once
w0 = enc.proj.weight.detach().clone()
batches = [(torch.randn(6, 5), torch.randn(6) * 3) for _ in range(3)]
opt = train(enc, batches)
assert enc.proj.weight.grad is not None and enc.proj.weight.grad.abs().sum() > 0
assert not torch.equal(w0, enc.proj.weight.detach())
