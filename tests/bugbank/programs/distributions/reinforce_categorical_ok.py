"""REINFORCE on a contextual bandit: Categorical.sample() picks the arm, log_prob(action) * advantage trains the policy.

Source: https://github.com/openai/spinningup/issues/171
        https://github.com/hill-a/stable-baselines/issues/672
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Categorical


class Policy(nn.Module):
    def __init__(self, obs_dim=3, n_arms=4):
        super().__init__()
        self.logits = nn.Sequential(nn.Linear(obs_dim, 16), nn.ReLU(), nn.Linear(16, n_arms))

    def forward(self, obs):
        return Categorical(logits=self.logits(obs))


def pull(arms, obs):
    return (arms == (obs[:, 0] > 0).long()).float()


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = Policy()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-2)
    obs = torch.randn(64, 3)
    dist = policy(obs)
    arms = dist.sample()
    reward = pull(arms, obs)
    advantage = reward - reward.mean()
    loss = -(dist.log_prob(arms) * advantage).mean() - 0.01 * dist.entropy().mean()
    opt.zero_grad()
    loss.backward()
    assert policy.logits[0].weight.grad.abs().sum() > 0
    opt.step()
