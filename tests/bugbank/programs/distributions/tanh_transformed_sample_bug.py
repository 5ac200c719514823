"""Deterministic-gradient actor with a TransformedDistribution(Normal, TanhTransform) whose .sample() feeds the critic.

Source: https://github.com/kashif/firedup/issues/9
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import TanhTransform


def squashed_policy(actor, obs):
    mu, log_std = actor(obs).chunk(2, dim=-1)
    return TransformedDistribution(Normal(mu, log_std.exp()), [TanhTransform(cache_size=1)])


def update_actor(actor, critic, opt, obs):
    pi = squashed_policy(actor, obs)
    action = pi.sample()  # BUG
    loss = -critic(torch.cat([obs, action], -1)).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


if __name__ == "__main__":
    torch.manual_seed(0)
    actor = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 4))
    critic = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = torch.optim.Adam(actor.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in actor.parameters()]
    for _ in range(2):
        update_actor(actor, critic, opt, torch.randn(8, 3))
    assert all(p.grad is None for p in actor.parameters())
    assert all(torch.equal(b, p) for b, p in zip(before, actor.parameters()))
    assert critic[0].weight.grad is not None  # the critic is in the graph, the actor is not
