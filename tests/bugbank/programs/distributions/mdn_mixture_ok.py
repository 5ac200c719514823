"""Mixture density network trained by the negative log-likelihood of y; .sample() only draws predictions to plot.

Source: https://github.com/pytorch/pytorch/issues/39178
Label: clean
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


if __name__ == "__main__":
    torch.manual_seed(0)
    model = MDN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.linspace(-1, 1, 20).unsqueeze(-1)
    y = torch.sin(3 * x).squeeze(-1)
    nll = -model(x).log_prob(y).mean()
    opt.zero_grad()
    nll.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    opt.step()
    with torch.no_grad():
        draws = model(x).sample((4,))
    assert draws.shape == (4, 20)
