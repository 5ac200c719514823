"""Active-learning feature alignment: the features fed to the frozen critic are recomputed under torch.no_grad(), so the alignment term never trains the extractor.

Source: https://github.com/SineZHAN/deepALplus/issues/5
Label: buggy
Family: graph
Frameworks: torch
"""
import torch
from torch import nn
import torch.nn.functional as F


def build():
    extractor = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8))
    classifier = nn.Linear(8, 3)
    critic = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    return extractor, classifier, critic


def task_step(extractor, classifier, critic, x_lab, y_lab, x_unlab, alpha=0.5):
    for p in critic.parameters():
        p.requires_grad = False
    ce = F.cross_entropy(classifier(extractor(x_lab)), y_lab)
    with torch.no_grad():  # BUG
        z_lab = extractor(x_lab)
        z_unlab = extractor(x_unlab)
    alignment = critic(z_unlab).mean() - critic(z_lab).mean()
    return ce, alignment, ce + alpha * alignment


if __name__ == "__main__":
    torch.manual_seed(0)
    extractor, classifier, critic = build()
    x_lab, y_lab = torch.randn(10, 6), torch.randint(0, 3, (10,))
    x_unlab = torch.randn(20, 6) + 1.0
    ce, alignment, total = task_step(extractor, classifier, critic, x_lab, y_lab, x_unlab)
    ce_only = torch.autograd.grad(ce, list(extractor.parameters()), retain_graph=True)
    total.backward()
    assert not alignment.requires_grad
    for g, p in zip(ce_only, extractor.parameters()):
        assert torch.equal(g, p.grad)
