"""Model-based actor: policy(obs) returns a Normal, the loop calls .sample() and backpropagates a learned reward.

Source: https://github.com/ARISE-Initiative/robomimic/issues/204
        https://github.com/kashif/firedup/issues/9
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
from torch.distributions import Independent, Normal


class GaussianPolicy(nn.Module):
    def __init__(self, obs_dim=4, act_dim=2):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(obs_dim, 32), nn.Tanh(), nn.Linear(32, 2 * act_dim))

    def forward(self, obs):
        mu, log_std = self.net(obs).chunk(2, dim=-1)
        return Independent(Normal(mu, log_std.clamp(-4, 1).exp()), 1)


def imagine_return(policy, dynamics, reward_model, obs, horizon=3):
    total = 0.0
    for _ in range(horizon):
        action = policy(obs).sample()  # BUG
        obs = dynamics(torch.cat([obs, action], dim=-1))
        total = total + reward_model(obs).mean()
    return total


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = GaussianPolicy()
    dynamics = nn.Linear(6, 4)
    reward_model = nn.Linear(4, 1)
    actor_opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    obs = torch.randn(8, 4)
    loss = -imagine_return(policy, dynamics, reward_model, obs)
    actor_opt.zero_grad()
    loss.backward()
    actor_opt.step()
    assert all(p.grad is None for p in policy.parameters())
    assert dynamics.weight.grad is not None
