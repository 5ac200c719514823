"""A DQN agent computes the TD target from a frozen target network under no_grad; the online Q stays live.

Source: https://github.com/philtabor/Deep-Q-Learning-Paper-To-Code/issues/16
Label: clean
Family: graph
Frameworks: torch
"""
import copy

import torch
import torch.nn as nn
import torch.nn.functional as F


class Agent:
    def __init__(self, obs_dim=4, n_actions=3, gamma=0.99):
        self.q_net = nn.Sequential(nn.Linear(obs_dim, 16), nn.ReLU(), nn.Linear(16, n_actions))
        self.target_net = copy.deepcopy(self.q_net)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=1e-3)
        self.gamma = gamma

    def learn(self, s, a, r, s2, done):
        q_pred = self.q_net(s).gather(1, a.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            q_next = self.target_net(s2).max(dim=1).values
            q_target = r + self.gamma * q_next * (1 - done)
        loss = F.smooth_l1_loss(q_pred, q_target)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def sync(self):
        self.target_net.load_state_dict(self.q_net.state_dict())


torch.manual_seed(0)
agent = Agent()
s, s2 = torch.randn(8, 4), torch.randn(8, 4)
a, r, done = torch.randint(0, 3, (8,)), torch.randn(8), torch.zeros(8)
start = agent.q_net[0].weight.clone()
agent.learn(s, a, r, s2, done)
agent.sync()

assert agent.q_net[0].weight.grad is not None and agent.q_net[0].weight.grad.abs().sum() > 0
assert not torch.equal(start, agent.q_net[0].weight)
assert agent.target_net[0].weight.grad is None
