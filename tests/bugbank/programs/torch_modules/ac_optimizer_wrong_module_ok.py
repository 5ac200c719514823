"""An actor-critic agent with one optimizer per network and a frozen target critic (a deep copy moved by Polyak averaging under no_grad, never by an optimizer): both networks train.

Source: https://github.com/yusukeurakami/plan2explore-pytorch/issues/4
        https://github.com/SforAiDl/genrl/issues/426
Label: clean
Family: loop
Frameworks: torch
"""
import copy

import torch
from torch import nn, optim


class ActorCritic:
    def __init__(self, obs_dim=4, n_actions=2, lr=1e-2, tau=0.1):
        self.policy = nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh(), nn.Linear(16, n_actions))
        self.value = nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh(), nn.Linear(16, 1))
        self.value_target = copy.deepcopy(self.value).requires_grad_(False)
        self.policy_opt = optim.Adam(self.policy.parameters(), lr=lr)
        self.value_opt = optim.Adam(self.value.parameters(), lr=lr)
        self.tau = tau

    def learn(self, obs, next_obs, actions, rewards, gamma=0.9):
        with torch.no_grad():
            target = rewards + gamma * self.value_target(next_obs).squeeze(-1)
        v = self.value(obs).squeeze(-1)
        value_loss = (target - v).pow(2).mean()
        self.value_opt.zero_grad()
        value_loss.backward()
        self.value_opt.step()

        adv = (target - v).detach()
        logp = torch.log_softmax(self.policy(obs), dim=-1)
        policy_loss = -(logp[torch.arange(len(actions)), actions] * adv).mean()
        self.policy_opt.zero_grad()
        policy_loss.backward()
        self.policy_opt.step()

        with torch.no_grad():
            for t, s in zip(self.value_target.parameters(), self.value.parameters()):
                t.mul_(1 - self.tau).add_(self.tau * s)


if __name__ == "__main__":
    torch.manual_seed(0)
    ac = ActorCritic()
    p0 = [p.detach().clone() for p in ac.policy.parameters()]
    v0 = [p.detach().clone() for p in ac.value.parameters()]
    for _ in range(3):
        ac.learn(torch.randn(8, 4), torch.randn(8, 4), torch.randint(0, 2, (8,)), torch.randn(8))
    assert ac.policy[0].weight.grad.abs().sum() > 0
    assert not all(torch.equal(a, b) for a, b in zip(p0, ac.policy.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(v0, ac.value.parameters()))
