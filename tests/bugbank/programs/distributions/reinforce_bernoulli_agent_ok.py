"""REINFORCE agent with a Bernoulli policy: actions are sampled, sent to a toy environment as ints, and the loss is -log_prob * return.

Source: https://github.com/pytorch/examples/pull/249
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Bernoulli


class Agent(nn.Module):
    def __init__(self, obs_dim=4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh(), nn.Linear(16, 1))
        self.saved_log_probs = []
        self.rewards = []

    def act(self, obs):
        logits = self.net(obs).squeeze(-1)
        policy = Bernoulli(logits=logits)
        action = policy.sample()
        self.saved_log_probs.append(policy.log_prob(action))
        return int(action.item())


def toy_env_step(state, action):
    # reward 1 when the action matches the sign of the first feature
    reward = 1.0 if (state[0] > 0) == bool(action) else 0.0
    return torch.randn(4), reward


def finish_episode(agent, optimizer, gamma=0.9):
    returns, running = [], 0.0
    for r in reversed(agent.rewards):
        running = r + gamma * running
        returns.insert(0, running)
    returns = torch.tensor(returns)
    returns = returns - returns.mean()
    loss = torch.stack([-lp * g for lp, g in zip(agent.saved_log_probs, returns)]).sum()
    optimizer.zero_grad()
    loss.backward()
    grad = agent.net[0].weight.grad.clone()
    optimizer.step()
    agent.saved_log_probs.clear()
    agent.rewards.clear()
    return grad


if __name__ == "__main__":
    torch.manual_seed(0)
    agent = Agent()
    optimizer = torch.optim.Adam(agent.parameters(), lr=1e-2)
    state = torch.randn(4)
    for t in range(12):
        a = agent.act(state)
        state, reward = toy_env_step(state, a)
        agent.rewards.append(reward)
    g = finish_episode(agent, optimizer)
    assert g.abs().sum() > 0
