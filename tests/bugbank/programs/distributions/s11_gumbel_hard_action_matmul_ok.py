"""Discrete-action actor (MADDPG style) that feeds the hard Gumbel-softmax one-hot to the critic through a matmul; argmax is only used to log the chosen actions.

Source: https://github.com/shariqiqbal2810/maddpg-pytorch/issues/34
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Actor(nn.Module):
    def __init__(self, obs_dim, n_actions, emb_dim=4):
        super().__init__()
        self.logits = nn.Linear(obs_dim, n_actions)
        self.action_emb = nn.Embedding(n_actions, emb_dim)

    def forward(self, obs, tau=1.0):
        onehot = F.gumbel_softmax(self.logits(obs), tau=tau, hard=True)
        return onehot @ self.action_emb.weight, onehot


class Critic(nn.Module):
    def __init__(self, obs_dim, emb_dim=4):
        super().__init__()
        self.q = nn.Sequential(nn.Linear(obs_dim + emb_dim, 16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, obs, act):
        return self.q(torch.cat([obs, act], dim=-1))


def update_actor(actor, critic, opt, obs, history):
    act, onehot = actor(obs)
    history.append(onehot.argmax(dim=-1).tolist())
    loss = -critic(obs, act).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    actor, critic = Actor(6, 3), Critic(6)
    opt = torch.optim.Adam(actor.parameters(), lr=1e-3)
    history = []
    update_actor(actor, critic, opt, torch.randn(8, 6), history)
    assert actor.logits.weight.grad is not None
    assert torch.count_nonzero(actor.logits.weight.grad) > 0
