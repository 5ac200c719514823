"""Flat REINFORCE script: a Gaussian action is drawn with sample(), the reward is computed from it, and the loss is -(reward - baseline) * log_prob.

Source: https://stackoverflow.com/questions/70163823/how-does-a-gradient-backpropagates-through-random-samples
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.optim as optim
from torch.distributions import Normal

torch.manual_seed(0)
softplus = nn.Softplus()

net = nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 2))
opt = optim.Adam(net.parameters(), lr=1e-3)
features = torch.tensor([1.0])
x = torch.tensor([1.0])
y = torch.tensor(3.0)
baseline = 0.0
grads = []

for _ in range(3):
    mu, raw_std = net(x)
    dist = Normal(mu, softplus(raw_std) + 1e-3)
    a = dist.sample()
    log_p = dist.log_prob(a)
    out = features * a
    reward = -torch.square(y - out)
    baseline = 0.9 * baseline + 0.1 * reward
    loss = -(reward - baseline) * log_p
    opt.zero_grad()
    loss.sum().backward()
    grads.append(net[0].weight.grad.abs().sum().item())
    opt.step()

assert all(g > 0 for g in grads)
