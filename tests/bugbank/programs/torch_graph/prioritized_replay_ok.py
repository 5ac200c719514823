"""Prioritized-replay DQN: TD errors are detached to update priorities and transitions are stored detached; the Q-net trains.

Source: https://github.com/Kaixhin/Rainbow/pull/33
Label: clean
Family: graph
Frameworks: torch
"""
import random

import torch
import torch.nn as nn


class PrioritizedMemory:
    def __init__(self):
        self.items = []
        self.priorities = []

    def push(self, state, action, reward, next_state):
        self.items.append((state.detach(), action, reward, next_state.detach()))
        self.priorities.append(1.0)

    def sample(self, k):
        idx = random.choices(range(len(self.items)), weights=self.priorities, k=k)
        states, actions, rewards, next_states = zip(*[self.items[i] for i in idx])
        return idx, torch.stack(states), torch.tensor(actions), torch.tensor(rewards), torch.stack(next_states)

    def update_priorities(self, idx, td_errors):
        for i, err in zip(idx, td_errors.abs().cpu().numpy()):
            self.priorities[i] = float(err) + 1e-3


def learn(q_net, target_net, memory, optimizer, gamma=0.9):
    idx, s, a, r, s2 = memory.sample(6)
    q = q_net(s).gather(1, a.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        target = r + gamma * target_net(s2).max(dim=1).values
    td = target - q
    memory.update_priorities(idx, td.detach())
    loss = (td ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


random.seed(0)
torch.manual_seed(0)
q_net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
target_net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
target_net.load_state_dict(q_net.state_dict())
optimizer = torch.optim.Adam(q_net.parameters(), lr=1e-2)
memory = PrioritizedMemory()
state = torch.randn(4)
for t in range(12):
    with torch.no_grad():
        action = int(q_net(state).argmax())
    next_state = torch.randn(4)
    memory.push(state, action, float(action == t % 2), next_state)
    state = next_state

start = q_net[0].weight.detach().clone()
running = 0.0
for _ in range(2):
    running += learn(q_net, target_net, memory, optimizer)

assert q_net[0].weight.grad is not None and q_net[0].weight.grad.abs().sum() > 0
assert not torch.equal(start, q_net[0].weight)
assert target_net[0].weight.grad is None
