"""Discrete-action actor (MADDPG style) that takes a hard Gumbel-softmax sample, turns it into an index and looks the action embedding up: the actor's logits get no gradient.

Source: https://github.com/shariqiqbal2810/maddpg-pytorch/issues/34
        https://github.com/limaosen0/AS-GCN/issues/48
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def to_action_index(onehot):
    return onehot.max(dim=-1).indices  # BUG


class Actor(nn.Module):
    def __init__(self, obs_dim, n_actions, emb_dim=4):
        super().__init__()
        self.logits = nn.Linear(obs_dim, n_actions)
        self.action_emb = nn.Embedding(n_actions, emb_dim)

    def forward(self, obs, tau=1.0):
        onehot = F.gumbel_softmax(self.logits(obs), tau=tau, hard=True)  # BUG
        idx = to_action_index(onehot)
        return self.action_emb(idx)


class Critic(nn.Module):
    def __init__(self, obs_dim, emb_dim=4):
        super().__init__()
        self.q = nn.Sequential(nn.Linear(obs_dim + emb_dim, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, obs, act):
        return self.q(torch.cat([obs, act], dim=-1))


def update_actor(actor, critic, opt, obs):
    q = critic(obs, actor(obs))
    loss = -q.mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    actor, critic = Actor(6, 3), Critic(6)
    opt = torch.optim.Adam(actor.parameters(), lr=1e-3)
    update_actor(actor, critic, opt, torch.randn(8, 6))
    assert actor.logits.weight.grad is None
    assert actor.action_emb.weight.grad is not None
