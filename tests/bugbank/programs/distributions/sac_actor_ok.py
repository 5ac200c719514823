"""SAC actor update with rsample() and a tanh squash: -Q(s, a) and the entropy term both reach the actor.

Source: https://github.com/kashif/firedup/issues/9
Label: clean
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
        mu, log_std = self.mu(h), self.log_std(h).clamp(-5, 2)
        pi = Normal(mu, log_std.exp())
        u = pi.rsample()
        a = torch.tanh(u)
        logp = pi.log_prob(u).sum(-1) - torch.log(1 - a.pow(2) + 1e-6).sum(-1)
        return a, logp


if __name__ == "__main__":
    torch.manual_seed(0)
    actor = Actor()
    critic = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Linear(32, 1))
    for p in critic.parameters():
        p.requires_grad_(False)  # the critic has its own optimizer and update
    opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
    obs = torch.randn(16, 3)
    a, logp = actor(obs)
    q = critic(torch.cat([obs, a], dim=-1)).squeeze(-1)
    g_q = torch.autograd.grad(-q.mean(), actor.mu.weight, retain_graph=True)[0]
    assert g_q.abs().sum() > 0
    loss = (0.2 * logp - q).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
