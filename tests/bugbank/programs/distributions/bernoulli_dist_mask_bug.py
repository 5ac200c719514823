"""Hard-attention selector: token keep-mask drawn from Bernoulli(probs).sample(); the selector receives no gradient.

Source: https://discuss.pytorch.org/t/back-propagation-on-variable-sampled-by-random-distribution/31790
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
from torch.distributions import Bernoulli


class Selector(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.score = nn.Linear(d, 1)
        self.classifier = nn.Linear(d, 2)

    def forward(self, tokens):
        keep_prob = torch.sigmoid(self.score(tokens))
        mask = Bernoulli(probs=keep_prob).sample()  # BUG
        pooled = (tokens * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return self.classifier(pooled)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = Selector()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    tokens, labels = torch.randn(4, 7, 8), torch.tensor([0, 1, 1, 0])
    loss = nn.functional.cross_entropy(model(tokens), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert model.score.weight.grad is None
    assert model.classifier.weight.grad.abs().sum() > 0
