"""Mixture density network trained by MSE between MixtureSameFamily.sample() and y: backward raises at once.

Source: https://github.com/pytorch/pytorch/issues/39178
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn as nn
import torch.distributions as D


class MDN(nn.Module):
    def __init__(self, k=3):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(1, 16), nn.Tanh())
        self.logits = nn.Linear(16, k)
        self.means = nn.Linear(16, k)
        self.log_scales = nn.Linear(16, k)

    def forward(self, x):
        h = self.hidden(x)
        mix = D.Categorical(logits=self.logits(h))
        comp = D.Normal(self.means(h), self.log_scales(h).exp())
        return D.MixtureSameFamily(mix, comp)


def train(model, x, y, steps=2):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        y_hat = model(x).sample()  # BUG
        loss = ((y_hat - y.squeeze(-1)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = MDN()
    x = torch.linspace(-1, 1, 20).unsqueeze(-1)
    y = torch.sin(3 * x)
    try:
        train(model, x, y)
    except RuntimeError as err:
        assert "does not require grad" in str(err)
    else:
        raise AssertionError("backward of a loss built from a non-reparameterised sample should raise")
