"""A REINFORCE agent with a baseline: the advantage is detached on purpose, log-probabilities stay live.

Source: https://github.com/seungeunrho/minimalRL/issues/33
Label: clean
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Categorical

torch.manual_seed(0)
policy = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
value = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.Adam(list(policy.parameters()) + list(value.parameters()), lr=1e-2)

log_probs, values, rewards = [], [], []
for t in range(5):
    obs = torch.randn(4)
    dist = Categorical(logits=policy(obs))
    action = dist.sample()
    log_probs.append(dist.log_prob(action))
    values.append(value(obs).squeeze())
    rewards.append(float(action.item() == 1))

returns = torch.tensor([sum(rewards[i:]) for i in range(len(rewards))])
values = torch.stack(values)
# the baseline must not be pushed by the policy loss
advantage = returns - values.detach()
policy_loss = -(torch.stack(log_probs) * advantage).sum()
value_loss = ((returns - values) ** 2).mean()
optimizer.zero_grad()
(policy_loss + value_loss).backward()
optimizer.step()

assert policy[0].weight.grad is not None and policy[0].weight.grad.abs().sum() > 0
assert value[0].weight.grad is not None
