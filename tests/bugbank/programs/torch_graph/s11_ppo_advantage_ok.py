"""A PPO update computes advantages from `state_values.detach()` and trains the critic with its own MSE term on the live values: actor and critic both learn.

Source: https://github.com/nikhilbarhate99/PPO-PyTorch/issues/35
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Categorical


class ActorCritic(nn.Module):
    def __init__(self, dim_states=4, dim_acts=2):
        super().__init__()
        self.actor = nn.Sequential(nn.Linear(dim_states, 16), nn.Tanh(), nn.Linear(16, dim_acts), nn.Softmax(dim=-1))
        self.critic = nn.Sequential(nn.Linear(dim_states, 16), nn.Tanh(), nn.Linear(16, 1))

    def evaluate(self, states, actions):
        dist = Categorical(self.actor(states))
        return dist.log_prob(actions), torch.squeeze(self.critic(states)), dist.entropy()


class PPO:
    def __init__(self, eps_clip=0.2, epochs=2):
        self.policy = ActorCritic()
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=3e-3)
        self.eps_clip, self.epochs = eps_clip, epochs
        self.mse = nn.MSELoss()

    def update(self, memory):
        states, actions, old_logprobs, rewards = memory
        returns = (rewards - rewards.mean()) / (rewards.std() + 1e-5)
        for _ in range(self.epochs):
            logprobs, state_values, entropy = self.policy.evaluate(states, actions)
            ratios = torch.exp(logprobs - old_logprobs.detach())
            advantages = returns - state_values.detach()
            surr1 = ratios * advantages
            surr2 = torch.clamp(ratios, 1 - self.eps_clip, 1 + self.eps_clip) * advantages
            loss = -torch.min(surr1, surr2) + 0.5 * self.mse(state_values, returns) - 0.01 * entropy
            self.optimizer.zero_grad()
            loss.mean().backward()
            self.optimizer.step()


torch.manual_seed(0)
agent = PPO()
states = torch.randn(8, 4)
with torch.no_grad():
    old_dist = Categorical(agent.policy.actor(states))
    actions = old_dist.sample()
    old_logprobs = old_dist.log_prob(actions)
rewards = torch.randn(8)
critic_before = agent.policy.critic[2].weight.detach().clone()
actor_before = agent.policy.actor[2].weight.detach().clone()
agent.update((states, actions, old_logprobs, rewards))
assert not torch.equal(critic_before, agent.policy.critic[2].weight)
assert not torch.equal(actor_before, agent.policy.actor[2].weight)
