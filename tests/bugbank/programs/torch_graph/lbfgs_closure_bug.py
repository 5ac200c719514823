"""A curve fit with LBFGS clears the gradients inside its closure after backward instead of before, so every step sees a zero gradient and the parameters never move.

Source: https://github.com/Lightning-AI/pytorch-lightning/pull/6147
        https://github.com/skorch-dev/skorch/issues/636
Label: buggy
Family: loop
Frameworks: torch
"""
import torch

torch.manual_seed(0)
t = torch.linspace(0, 1, 20)
obs = 2.0 * torch.exp(-3.0 * t) + 0.01 * torch.randn(20)

amp = torch.nn.Parameter(torch.tensor(1.0))
rate = torch.nn.Parameter(torch.tensor(1.0))
solver = torch.optim.LBFGS([amp, rate], lr=0.5, max_iter=5)


def closure():
    pred = amp * torch.exp(-rate * t)
    loss = ((pred - obs) ** 2).mean()
    loss.backward()
    solver.zero_grad()  # BUG
    return loss


for _ in range(2):
    solver.step(closure)

assert amp.item() == 1.0 and rate.item() == 1.0
assert amp.grad is None or amp.grad.abs().sum() == 0
