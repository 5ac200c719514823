"""Dreamer-style behaviour learner: the actor is handed to the trainer's constructor and its
Normal is drawn with .sample() in the imagined rollout, so the actor loss gives it no gradient.

Source: https://github.com/jsikyoon/dreamer-torch/issues/9
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal


class LatentDynamics(nn.Module):
    def __init__(self, state_dim=6, act_dim=2):
        super().__init__()
        self.cell = nn.GRUCell(act_dim, state_dim)
        self.reward = nn.Linear(state_dim, 1)

    def forward(self, state, action):
        return self.cell(action, state)


class BehaviourLearner:
    def __init__(self, actor, dynamics, horizon=4):
        self.actor = actor
        self.dynamics = dynamics
        self.horizon = horizon
        self.opt = torch.optim.Adam(actor.parameters(), lr=1e-3)

    def imagine(self, state):
        rewards = []
        for _ in range(self.horizon):
            mean, raw_std = self.actor(state.detach()).chunk(2, dim=-1)
            action = Normal(torch.tanh(mean), F.softplus(raw_std) + 0.1).sample()  # BUG
            state = self.dynamics(state, action)
            rewards.append(self.dynamics.reward(state))
        return torch.stack(rewards)

    def update(self, start):
        loss = -self.imagine(start).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    actor = nn.Sequential(nn.Linear(6, 16), nn.ELU(), nn.Linear(16, 4))
    learner = BehaviourLearner(actor, LatentDynamics())
    learner.update(torch.randn(5, 6))
    assert all(p.grad is None for p in actor.parameters())
