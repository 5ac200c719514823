"""Policy trained by backpropagating a cost through a differentiable point-mass simulator, with each action drawn by .rsample(): the policy mean head learns.

Source: https://stevengong.co/notes/Soft-Actor-Critic
        https://github.com/jankrepl/deepdow/pull/106
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Normal


class GaussianPolicy(nn.Module):
    def __init__(self, state_dim=2, act_dim=1):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(state_dim, 32), nn.ELU(), nn.Linear(32, act_dim))
        self.log_std = nn.Parameter(torch.full((act_dim,), -0.5))

    def forward(self, state):
        return Normal(self.net(state), self.log_std.exp())


def simulate(state, action, dt=0.1):
    pos, vel = state[:, :1], state[:, 1:]
    vel = vel + dt * action
    pos = pos + dt * vel
    return torch.cat([pos, vel], dim=-1)


def rollout_cost(policy, start, horizon=8):
    state = start
    cost = 0.0
    entropy = 0.0
    for _ in range(horizon):
        pi = policy(state)
        act = pi.rsample()
        state = simulate(state, act)
        cost = cost + (state ** 2).sum(-1).mean() + 1e-3 * (act ** 2).sum(-1).mean()
        entropy = entropy + pi.entropy().sum(-1).mean()
    return cost - 1e-2 * entropy


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = GaussianPolicy()
    opt = torch.optim.SGD(policy.parameters(), lr=1e-2)
    start = torch.randn(16, 2)
    head = policy.net[2].weight
    before = head.detach().clone()
    for _ in range(3):
        loss = rollout_cost(policy, start)
        opt.zero_grad()
        loss.backward()
        opt.step()
    # the simulated cost reaches the action mean through the reparameterized draws
    assert head.grad is not None and head.grad.abs().sum() > 0
    assert not torch.equal(head.detach(), before)
    assert policy.log_std.grad is not None
