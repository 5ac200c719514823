"""PPO update for a Gaussian policy: the rollout samples actions and stores old log-probs under no_grad; the clipped ratio trains the policy.

Source: https://github.com/nikhilbarhate99/PPO-PyTorch/issues/18
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Normal


class GaussianPolicy(nn.Module):
    def __init__(self, obs_dim=3, act_dim=2):
        super().__init__()
        self.mean = nn.Sequential(nn.Linear(obs_dim, 32), nn.Tanh(), nn.Linear(32, act_dim))
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def dist(self, obs):
        return Normal(self.mean(obs), self.log_std.exp())


def collect(policy, n=32):
    obs = torch.randn(n, 3)
    with torch.no_grad():
        d = policy.dist(obs)
        actions = d.sample()
        old_logp = d.log_prob(actions).sum(-1)
    rewards = -(actions - obs[:, :2]).pow(2).sum(-1)  # toy reward, computed outside the graph
    advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-8)
    return obs, actions, old_logp, advantages


def ppo_update(policy, optimizer, batch, clip=0.2, epochs=3):
    obs, actions, old_logp, adv = batch
    grads = []
    for _ in range(epochs):
        new_logp = policy.dist(obs).log_prob(actions).sum(-1)
        ratio = torch.exp(new_logp - old_logp)
        surr = torch.min(ratio * adv, torch.clamp(ratio, 1 - clip, 1 + clip) * adv)
        loss = -surr.mean()
        optimizer.zero_grad()
        loss.backward()
        grads.append(policy.mean[0].weight.grad.abs().sum().item())
        optimizer.step()
    return grads


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = GaussianPolicy()
    optimizer = torch.optim.Adam(policy.parameters(), lr=3e-4)
    grads = ppo_update(policy, optimizer, collect(policy))
    assert grads[0] > 0
    assert policy.log_std.grad is not None and policy.log_std.grad.abs().sum() > 0
