"""A REINFORCE agent accumulates its policy loss from `log_prob.item() * reward` (the user added `.item()` to dodge a device error): the loss keeps a leaf but the policy gets no gradient.

Source: https://github.com/isayev/ReLeaSE/issues/39
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmilesPolicy(nn.Module):
    def __init__(self, vocab=7, hidden=12):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.cell = nn.GRUCell(hidden, hidden)
        self.out = nn.Linear(hidden, vocab)

    def step(self, token, h):
        h = self.cell(self.embed(token), h)
        return F.log_softmax(self.out(h), dim=-1), h


class Reinforcement:
    def __init__(self, policy, reward_fn, gamma=0.97):
        self.policy = policy
        self.reward_fn = reward_fn
        self.gamma = gamma
        self.opt = torch.optim.Adam(policy.parameters(), lr=1e-2)

    def policy_gradient(self, n_steps=5):
        self.opt.zero_grad()
        token = torch.zeros(1, dtype=torch.long)
        h = torch.zeros(1, 12)
        trajectory = []
        for _ in range(n_steps):
            log_probs, h = self.policy.step(token, h)
            token = torch.multinomial(log_probs.exp(), 1).squeeze(1)
            trajectory.append((log_probs, token.item()))
        reward = self.reward_fn([t for _, t in trajectory])
        rl_loss = torch.zeros(1, requires_grad=True)
        discounted = reward
        for log_probs, top_i in reversed(trajectory):
            rl_loss = rl_loss - log_probs[0, top_i].item() * discounted  # BUG
            discounted = discounted * self.gamma
        rl_loss = rl_loss / n_steps
        rl_loss.backward()
        self.opt.step()
        return rl_loss.item()


torch.manual_seed(0)
policy = SmilesPolicy()
agent = Reinforcement(policy, reward_fn=lambda tokens: float(sum(tokens)) / 10.0)
before = policy.out.weight.detach().clone()
for _ in range(2):
    agent.policy_gradient()

assert policy.out.weight.grad is None
assert policy.embed.weight.grad is None
assert torch.equal(before, policy.out.weight)
