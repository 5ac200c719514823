"""Policy-gradient agent whose forward() draws actions with rsample() and scores them with log_prob: the mean head gets exactly zero gradient.

Source: https://github.com/DLR-RM/stable-baselines3/issues/2096
        https://github.com/pytorch/pytorch/issues/10943
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch as th
import torch.nn as nn
from torch.distributions import Normal


class GaussianPolicy(nn.Module):
    def __init__(self, obs_dim=10, act_dim=2):
        super().__init__()
        self.mean = nn.Linear(obs_dim, act_dim)
        self.log_std = nn.Parameter(th.zeros(act_dim))

    def density(self, state):
        mu = self.mean(state)
        return Normal(loc=mu, scale=self.log_std.exp().expand_as(mu))

    def forward(self, state):
        pi = self.density(state)
        actions = pi.rsample()  # BUG
        return actions, pi.log_prob(actions).sum(dim=1)  # BUG


def episode_return(actions):
    # stand-in environment: reward for actions close to 0.5
    return -((actions - 0.5) ** 2).sum(dim=1)


def reinforce_step(policy, optimizer, states):
    actions, logp = policy(states)
    with th.no_grad():
        adv = episode_return(actions)
        adv = adv - adv.mean()
    loss = -(adv * logp).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


if __name__ == "__main__":
    th.manual_seed(0)
    policy = GaussianPolicy()
    optimizer = th.optim.SGD(policy.parameters(), lr=0.1)
    reinforce_step(policy, optimizer, th.rand(5, 10))
    # log N(mu + s*e | mu, s) does not depend on mu: the mean layer gets an exact zero
    assert th.count_nonzero(policy.mean.weight.grad) == 0
    assert th.count_nonzero(policy.log_std.grad) > 0
