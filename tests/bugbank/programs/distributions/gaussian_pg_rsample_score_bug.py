"""Policy gradient for a Gaussian policy scores an rsample()'d action: log_prob of its own reparameterised sample gives the mean head zero gradient.

Source: https://github.com/pytorch/pytorch/issues/10943
        https://github.com/DLR-RM/stable-baselines3/issues/2096
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Normal


class GaussianActor(nn.Module):
    def __init__(self, obs_dim=4, act_dim=1):
        super().__init__()
        self.mean_head = nn.Linear(obs_dim, act_dim)
        self.logstd_head = nn.Linear(obs_dim, act_dim)

    def forward(self, obs):
        return Normal(self.mean_head(obs), self.logstd_head(obs).exp())

    def act(self, obs):
        pi = self(obs)
        action = pi.rsample()  # BUG
        return action, pi.log_prob(action).sum(-1)  # BUG


def reward_fn(action):
    return -(action.squeeze(-1) - 0.5) ** 2


if __name__ == "__main__":
    torch.manual_seed(0)
    actor = GaussianActor()
    opt = torch.optim.SGD(actor.parameters(), lr=1e-2)
    obs = torch.randn(16, 4)
    action, logp = actor.act(obs)
    returns = reward_fn(action.detach())
    advantage = returns - returns.mean()
    loss = -(logp * advantage).mean()
    opt.zero_grad()
    loss.backward()
    # the score term cancels inside log_prob((mu + sigma*eps) - mu): the mean never learns
    assert torch.count_nonzero(actor.mean_head.weight.grad) == 0
    assert actor.logstd_head.weight.grad.abs().sum() > 0
    opt.step()
