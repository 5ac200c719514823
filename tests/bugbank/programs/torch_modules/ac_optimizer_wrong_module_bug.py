"""An actor-critic agent builds its actor optimizer over the critic's parameters (a copy-paste slip): the actor gets gradients every update but its weights never move.

Source: https://github.com/yusukeurakami/plan2explore-pytorch/issues/4
        https://github.com/SforAiDl/genrl/issues/426
Label: buggy
Family: loop
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim


class Agent:
    def __init__(self, obs_dim=4, n_actions=2, lr=1e-2):
        self.actor = nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh(), nn.Linear(16, n_actions))
        self.critic = nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh(), nn.Linear(16, 1))
        self.actor_opt = optim.Adam(self.critic.parameters(), lr=lr)  # BUG
        self.critic_opt = optim.Adam(self.critic.parameters(), lr=lr)

    def update(self, obs, actions, returns):
        values = self.critic(obs).squeeze(-1)
        advantage = (returns - values).detach()
        critic_loss = F.mse_loss(values, returns)
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()

        log_probs = torch.log_softmax(self.actor(obs), dim=-1)
        chosen = log_probs.gather(1, actions.unsqueeze(1)).squeeze(1)
        actor_loss = -(chosen * advantage).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        return actor_loss.item(), critic_loss.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    agent = Agent()
    before = [p.detach().clone() for p in agent.actor.parameters()]
    for _ in range(3):
        obs = torch.randn(8, 4)
        actions = torch.randint(0, 2, (8,))
        returns = torch.randn(8)
        agent.update(obs, actions, returns)
    # the actor received gradients but no optimizer holds its parameters
    assert agent.actor[0].weight.grad is not None and agent.actor[0].weight.grad.abs().sum() > 0
    assert all(torch.equal(b, p) for b, p in zip(before, agent.actor.parameters()))
