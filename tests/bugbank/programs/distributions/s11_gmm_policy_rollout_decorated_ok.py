"""GMM behaviour-cloning policy trained by log-likelihood of the demonstrations; rollouts sample actions in a @torch.no_grad() function.

Source: https://github.com/ARISE-Initiative/robomimic/issues/204
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
import torch.distributions as D


def make_gmm(means, log_scales, logits):
    comp = D.Independent(D.Normal(means, log_scales.exp()), 1)
    return D.MixtureSameFamily(D.Categorical(logits=logits), comp)


class GMMPolicy(nn.Module):
    def __init__(self, obs_dim=6, act_dim=2, k=3):
        super().__init__()
        self.k, self.act_dim = k, act_dim
        self.body = nn.Sequential(nn.Linear(obs_dim, 32), nn.ReLU())
        self.out = nn.Linear(32, k * (2 * act_dim + 1))

    def forward(self, obs):
        h = self.out(self.body(obs))
        means, log_scales, logits = h.split([self.k * self.act_dim, self.k * self.act_dim, self.k], dim=-1)
        shape = (-1, self.k, self.act_dim)
        return make_gmm(means.reshape(shape), log_scales.reshape(shape).clamp(-4, 1), logits)

    def bc_loss(self, batch):
        return -self(batch["obs"]).log_prob(batch["actions"]).mean()


@torch.no_grad()
def rollout(policy, obs, steps=3):
    actions = []
    for _ in range(steps):
        a = policy(obs).sample()
        actions.append(a)
        obs = obs + 0.01 * torch.randn_like(obs)
    return torch.stack(actions)


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = GMMPolicy()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    batch = {"obs": torch.randn(16, 6), "actions": torch.rand(16, 2)}
    loss = policy.bc_loss(batch)
    opt.zero_grad()
    loss.backward()
    assert torch.count_nonzero(policy.body[0].weight.grad) > 0
    opt.step()
    traj = rollout(policy, torch.randn(4, 6))
    assert traj.shape == (3, 4, 2) and not traj.requires_grad
