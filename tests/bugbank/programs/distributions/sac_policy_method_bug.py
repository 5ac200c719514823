"""SAC-style agent: the policy's get_distribution() method returns an Independent Normal and the
agent, given the policy through its constructor, draws with .sample() for the actor loss, so
the policy gets no gradient from the critic.

Source: https://github.com/kashif/firedup/issues/9
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Independent, Normal


class MLPPolicy(nn.Module):
    def __init__(self, obs_dim=3, act_dim=2):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(obs_dim, 16), nn.ReLU())
        self.mu = nn.Linear(16, act_dim)
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def get_distribution(self, obs):
        return Independent(Normal(self.mu(self.trunk(obs)), self.log_std.exp()), 1)


class Agent:
    def __init__(self, policy, critic, lr=3e-4):
        self.policy = policy
        self.critic = critic
        self.pi_opt = torch.optim.Adam(self.policy.parameters(), lr=lr)

    def actor_loss(self, obs):
        dist = self.policy.get_distribution(obs)
        actions = dist.sample()  # BUG
        q = self.critic(torch.cat([obs, actions], dim=-1))
        return -q.mean()

    def update_actor(self, obs):
        loss = self.actor_loss(obs)
        self.pi_opt.zero_grad()
        loss.backward()
        self.pi_opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = MLPPolicy()
    critic = nn.Linear(5, 1)
    agent = Agent(policy, critic)
    agent.update_actor(torch.randn(4, 3))
    assert all(p.grad is None for p in policy.parameters())
    assert critic.weight.grad is not None
