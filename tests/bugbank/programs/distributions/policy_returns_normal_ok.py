"""Model-based actor: policy(obs) returns a Normal, imagination uses rsample(); env rollouts sample under no_grad.

Source: https://github.com/ARISE-Initiative/robomimic/issues/204
Label: clean
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
        action = policy(obs).rsample()
        obs = dynamics(torch.cat([obs, action], dim=-1))
        total = total + reward_model(obs).mean()
    return total


@torch.no_grad()
def act_in_env(policy, obs):
    return policy(obs).sample()


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = GaussianPolicy()
    dynamics = nn.Linear(6, 4)
    reward_model = nn.Linear(4, 1)
    actor_opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    obs = torch.randn(8, 4)
    env_actions = act_in_env(policy, obs)
    assert not env_actions.requires_grad
    loss = -imagine_return(policy, dynamics, reward_model, obs)
    actor_opt.zero_grad()
    loss.backward()
    assert all(p.grad is not None for p in policy.parameters())
    assert policy.net[0].weight.grad.abs().sum() > 0
    actor_opt.step()
