"""A PPO update computes the probability ratio inside torch.no_grad(), so only the value head learns.

Source: https://github.com/nikhilbarhate99/PPO-PyTorch/issues/18
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Categorical


class ActorCritic(nn.Module):
    def __init__(self, obs_dim=4, n_actions=2):
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh(), nn.Linear(16, n_actions))
        self.critic = nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh(), nn.Linear(16, 1))

    def evaluate(self, states, actions):
        dist = Categorical(logits=self.actor(states))
        return dist.log_prob(actions), self.critic(states).squeeze(-1)


def ppo_update(agent, opt, states, actions, old_logp, returns, clip=0.2):
    logp, values = agent.evaluate(states, actions)
    advantages = returns - values.detach()
    with torch.no_grad():  # BUG
        ratio = torch.exp(logp - old_logp)  # BUG
    surr = torch.min(ratio * advantages, torch.clamp(ratio, 1 - clip, 1 + clip) * advantages)
    loss = -surr.mean() + 0.5 * ((returns - values) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


torch.manual_seed(0)
agent = ActorCritic()
opt = torch.optim.Adam(agent.parameters(), lr=3e-3)
states = torch.randn(8, 4)
with torch.no_grad():
    dist = Categorical(logits=agent.actor(states))
    actions = dist.sample()
    old_logp = dist.log_prob(actions)
returns = torch.randn(8)
actor_start = agent.actor[0].weight.clone()
for _ in range(2):
    ppo_update(agent, opt, states, actions, old_logp, returns)

assert agent.actor[0].weight.grad is None
assert torch.equal(actor_start, agent.actor[0].weight)
assert agent.critic[0].weight.grad is not None
