"""GMM behaviour-cloning policy whose loss compares a sampled action (MixtureSameFamily has no rsample) with the demonstration: the policy never trains.

Source: https://github.com/ARISE-Initiative/robomimic/issues/204
Label: buggy
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
        action = self(batch["obs"]).sample()  # BUG
        return ((action - batch["actions"]) ** 2).mean()


if __name__ == "__main__":
    torch.manual_seed(0)
    policy = GMMPolicy()
    opt = torch.optim.Adam(policy.parameters(), lr=1e-3)
    batch = {"obs": torch.randn(16, 6), "actions": torch.rand(16, 2)}
    loss = policy.bc_loss(batch)
    # the loss is a constant: backward fails at once
    try:
        loss.backward()
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("expected the sample to carry no graph")
