"""Active-learning feature alignment in two phases: the critic trains on features taken under no_grad, the extractor then trains through the frozen critic.

Source: https://github.com/SineZHAN/deepALplus/issues/5
Label: clean
Family: graph
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
extractor = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8))
classifier = nn.Linear(8, 3)
critic = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
opt_task = torch.optim.SGD(list(extractor.parameters()) + list(classifier.parameters()), lr=0.1)
opt_critic = torch.optim.SGD(critic.parameters(), lr=0.1)

x_lab, y_lab = torch.randn(10, 6), torch.randint(0, 3, (10,))
x_unlab = torch.randn(20, 6) + 1.0

# phase 1: the critic learns to tell labelled from unlabelled features
with torch.no_grad():
    z_lab, z_unlab = extractor(x_lab), extractor(x_unlab)
critic_loss = F.softplus(-critic(z_lab)).mean() + F.softplus(critic(z_unlab)).mean()
opt_critic.zero_grad()
critic_loss.backward()
critic_grad = critic[0].weight.grad.abs().sum().item()
opt_critic.step()

# phase 2: the extractor aligns the two sets through the frozen critic
critic.requires_grad_(False)
ce = F.cross_entropy(classifier(extractor(x_lab)), y_lab)
alignment = critic(extractor(x_unlab)).mean() - critic(extractor(x_lab)).mean()
ce_only = torch.autograd.grad(ce, list(extractor.parameters()), retain_graph=True)
opt_task.zero_grad()
(ce + 0.5 * alignment).backward()
opt_task.step()

assert critic_grad > 0
assert alignment.requires_grad
assert any(not torch.allclose(g, p.grad) for g, p in zip(ce_only, extractor.parameters()))
