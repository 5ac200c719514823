"""Behaviour-cloning GMM policy: trained by maximum likelihood (-log_prob of the expert action),
while .sample() is only used to pick the action an environment step consumes (clean).

Source: https://github.com/ARISE-Initiative/robomimic/issues/204
Label: clean
Family: sampling
Frameworks: torch
"""
import numpy as np
import torch
import torch.nn as nn
import torch.distributions as D


class GMMPolicy(nn.Module):
    def __init__(self, obs_dim=4, act_dim=2, modes=3):
        super().__init__()
        self.modes, self.act_dim = modes, act_dim
        self.body = nn.Linear(obs_dim, 32)
        self.head = nn.Linear(32, modes * (1 + 2 * act_dim))

    def forward(self, obs):
        out = self.head(torch.relu(self.body(obs)))
        logits, means, log_stds = out.split([self.modes, self.modes * self.act_dim, self.modes * self.act_dim], dim=-1)
        comp = D.Independent(D.Normal(means.view(-1, self.modes, self.act_dim),
                                      log_stds.view(-1, self.modes, self.act_dim).clamp(-5, 2).exp()), 1)
        return D.MixtureSameFamily(D.Categorical(logits=logits), comp)


def toy_env_step(state, action):
    next_state = state + 0.1 * np.tanh(action).sum()
    return next_state, float(-np.abs(next_state).sum())


def step_env(policy, state):
    dist = policy(torch.as_tensor(state, dtype=torch.float32).unsqueeze(0))
    action = dist.sample()
    return toy_env_step(state, action.squeeze(0).numpy())


def bc_update(policy, opt, obs, expert_actions):
    loss = -policy(obs).log_prob(expert_actions).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = GMMPolicy()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    state, _reward = step_env(policy, np.zeros(4))
    bc_update(policy, opt, torch.randn(8, 4), torch.randn(8, 2))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in policy.parameters())
