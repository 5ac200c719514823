"""Actor-critic with a Gaussian exploration head: the actor loss scores Normal(mu, sigma).sample() with the critic, so the actor never gets a gradient.

Source: https://github.com/jankrepl/deepdow/pull/106
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Normal


class Actor(nn.Module):
    def __init__(self, obs_dim=4, act_dim=2, sigma=0.2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, 32), nn.ReLU(), nn.Linear(32, act_dim), nn.Tanh())
        self.sigma = sigma

    def explore(self, obs):
        mu = self.net(obs)
        return Normal(mu, self.sigma).sample()  # BUG


class Critic(nn.Module):
    def __init__(self, obs_dim=4, act_dim=2):
        super().__init__()
        self.q = nn.Sequential(nn.Linear(obs_dim + act_dim, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, obs, act):
        return self.q(torch.cat([obs, act], dim=-1))


def actor_step(actor, critic, opt, obs):
    actions = actor.explore(obs)
    loss = -critic(obs, actions).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


if __name__ == "__main__":
    torch.manual_seed(0)
    actor, critic = Actor(), Critic()
    actor_opt = torch.optim.Adam(actor.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in actor.parameters()]
    actor_step(actor, critic, actor_opt, torch.randn(16, 4))
    assert actor.net[0].weight.grad is None
    assert all(torch.equal(b, p) for b, p in zip(before, actor.parameters()))
