"""SAC critic and actor steps: the TD target samples next actions under no_grad; the actor loss uses rsample() through the critic.

Source: https://github.com/DLR-RM/stable-baselines3/issues/2096
Label: clean
Family: sampling
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn
import torch.distributions as td


class Policy(nn.Module):
    def __init__(self, obs_dim=3, act_dim=1):
        super().__init__()
        self.trunk = nn.Linear(obs_dim, 32)
        self.head = nn.Linear(32, 2 * act_dim)

    def forward(self, obs):
        mu, log_std = self.head(torch.relu(self.trunk(obs))).chunk(2, -1)
        return td.Normal(mu, log_std.clamp(-4, 1).exp())


def q_net():
    return nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Linear(32, 1))


policy, critic = Policy(), q_net()
critic_target = copy.deepcopy(critic)
pi_opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
q_opt = torch.optim.Adam(critic.parameters(), lr=1e-3)


def update(obs, act, rew, next_obs, alpha=0.1, gamma=0.99):
    with torch.no_grad():
        nd = policy(next_obs)
        next_act = nd.sample()
        next_logp = nd.log_prob(next_act).sum(-1, keepdim=True)
        target = rew + gamma * (critic_target(torch.cat([next_obs, next_act], -1)) - alpha * next_logp)
    q_loss = (critic(torch.cat([obs, act], -1)) - target).pow(2).mean()
    q_opt.zero_grad()
    q_loss.backward()
    q_opt.step()

    d = policy(obs)
    new_act = d.rsample()
    logp = d.log_prob(new_act).sum(-1, keepdim=True)
    pi_loss = (alpha * logp - critic(torch.cat([obs, new_act], -1))).mean()
    pi_opt.zero_grad()
    pi_loss.backward()
    g = policy.trunk.weight.grad.clone()
    pi_opt.step()
    return g


if __name__ == "__main__":
    torch.manual_seed(0)
    obs, act = torch.randn(8, 3), torch.randn(8, 1)
    rew, next_obs = torch.randn(8, 1), torch.randn(8, 3)
    g = update(obs, act, rew, next_obs)
    assert g.abs().sum() > 0
