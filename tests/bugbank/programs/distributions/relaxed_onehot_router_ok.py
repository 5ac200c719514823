"""Mixture-of-experts router with RelaxedOneHotCategorical.rsample(): soft one-hot gates mix expert outputs and train the router.

Source: https://github.com/pytorch/pytorch/pull/5056
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import RelaxedOneHotCategorical


class SoftRouter(nn.Module):
    def __init__(self, d=6, n_experts=3, temperature=0.5):
        super().__init__()
        self.router = nn.Linear(d, n_experts)
        self.experts = nn.ModuleList([nn.Linear(d, 1) for _ in range(n_experts)])
        self.register_buffer("temperature", torch.tensor(temperature))

    def forward(self, x):
        gate_dist = RelaxedOneHotCategorical(self.temperature, logits=self.router(x))
        gates = gate_dist.rsample()  # (batch, n_experts), differentiable in the logits
        outs = torch.cat([e(x) for e in self.experts], dim=-1)
        return (gates * outs).sum(-1)


def train_step(model, opt, x, y):
    pred = model(x)
    loss = nn.functional.mse_loss(pred, y)
    opt.zero_grad()
    loss.backward()
    g = model.router.weight.grad.clone()
    opt.step()
    return g


if __name__ == "__main__":
    torch.manual_seed(0)
    model = SoftRouter()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(16, 6), torch.randn(16)
    g = train_step(model, opt, x, y)
    assert g.abs().sum() > 0
