"""SAC actor update that draws the action with .sample() and scores it with log_prob: the Q-value path is cut.

Source: https://github.com/kashif/firedup/issues/9
        https://github.com/mimoralea/gdrl/issues/39
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Normal


class Actor(nn.Module):
    def __init__(self, obs_dim=3, act_dim=2):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(obs_dim, 32), nn.ReLU())
        self.mu = nn.Linear(32, act_dim)
        self.log_std = nn.Linear(32, act_dim)

    def forward(self, obs):
        h = self.body(obs)
        return self.mu(h), self.log_std(h).clamp(-5, 2)


def actor_loss(actor, critic, obs, alpha=0.2):
    mu, log_std = actor(obs)
    pi = Normal(mu, log_std.exp())
    action = pi.sample()  # BUG
    logp = pi.log_prob(action).sum(-1)
    q = critic(torch.cat([obs, torch.tanh(action)], dim=-1)).squeeze(-1)
    return (alpha * logp - q).mean(), logp


if __name__ == "__main__":
    torch.manual_seed(0)
    actor = Actor()
    critic = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
    obs = torch.randn(16, 3)
    loss, logp = actor_loss(actor, critic, obs)
    opt.zero_grad()
    loss.backward(retain_graph=True)
    g_total = actor.mu.weight.grad.clone()
    # everything the actor receives comes from the entropy term alone: -Q contributes nothing
    actor.zero_grad()
    (0.2 * logp).mean().backward()
    assert torch.allclose(g_total, actor.mu.weight.grad)
