"""A2C update: the entropy bonus comes from a stats helper that runs under torch.no_grad(), so the bonus never pushes the policy.

Source: https://github.com/huggingface/trl/pull/6140
        https://github.com/areal-project/AReaL/pull/1680
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical


class ActorCritic(nn.Module):
    def __init__(self, obs_dim=5, n_actions=3):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(obs_dim, 16), nn.Tanh())
        self.pi = nn.Linear(16, n_actions)
        self.v = nn.Linear(16, 1)

    def forward(self, obs):
        h = self.trunk(obs)
        return Categorical(logits=self.pi(h)), self.v(h).squeeze(-1)


def policy_stats(dist):
    with torch.no_grad():  # BUG
        entropy = dist.entropy().mean()  # BUG
        max_prob = dist.probs.max(-1).values.mean()
    return entropy, max_prob


def a2c_loss(model, obs, actions, returns, ent_coef=0.01):
    dist, values = model(obs)
    advantage = returns - values
    pg = -(dist.log_prob(actions) * advantage.detach()).mean()
    value_loss = F.mse_loss(values, returns)
    entropy, max_prob = policy_stats(dist)
    return pg + 0.5 * value_loss - ent_coef * entropy, entropy


if __name__ == "__main__":
    torch.manual_seed(0)
    model = ActorCritic()
    opt = torch.optim.RMSprop(model.parameters(), lr=7e-4)
    obs = torch.randn(12, 5)
    actions = torch.randint(0, 3, (12,))
    returns = torch.randn(12)
    loss, entropy = a2c_loss(model, obs, actions, returns)
    # the entropy term alone carries no gradient
    assert not entropy.requires_grad
    entropy_only = -entropy
    try:
        entropy_only.backward()
        raise AssertionError("entropy should be cut from the graph")
    except RuntimeError:
        pass
    opt.zero_grad()
    loss.backward()
    opt.step()
