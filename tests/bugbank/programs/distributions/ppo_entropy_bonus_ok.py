"""PPO update with an entropy bonus kept in the graph; approx-KL and clip fraction are computed under no_grad for logging and early stopping only.

Source: https://github.com/areal-project/AReaL/pull/1680
        https://github.com/nikhilbarhate99/PPO-PyTorch/issues/18
Label: clean
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Categorical

policy = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
optimizer = torch.optim.Adam(policy.parameters(), lr=3e-4)


def ppo_step(obs, actions, old_logp, adv, clip=0.2, ent_coef=0.01):
    dist = Categorical(logits=policy(obs))
    logp = dist.log_prob(actions)
    ratio = torch.exp(logp - old_logp)
    surrogate = torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)
    entropy = dist.entropy().mean()
    loss = -surrogate.mean() - ent_coef * entropy
    with torch.no_grad():
        approx_kl = (old_logp - logp).mean()
        clip_frac = ((ratio - 1).abs() > clip).float().mean()
    return loss, entropy, approx_kl.item(), clip_frac.item()


if __name__ == "__main__":
    torch.manual_seed(0)
    obs = torch.randn(12, 5)
    with torch.no_grad():
        rollout_dist = Categorical(logits=policy(obs))
        actions = rollout_dist.sample()
        old_logp = rollout_dist.log_prob(actions)
    adv = torch.randn(12)
    loss, entropy, kl, frac = ppo_step(obs, actions, old_logp, adv)
    assert entropy.requires_grad
    ent_grad = torch.autograd.grad(entropy, policy[2].weight, retain_graph=True)[0]
    assert ent_grad.abs().sum() > 0
    optimizer.zero_grad()
    loss.backward()
    assert policy[0].weight.grad.abs().sum() > 0
    optimizer.step()
