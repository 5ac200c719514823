"""Mean-field Bayesian regression written by hand: weights come from q.sample(), so the likelihood term never reaches the variational mean.

Source: https://github.com/danielkelshaw/WeightUncertainty/issues/31
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
from torch import nn
import torch.distributions as dist


class VariationalRegression(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q_mean = nn.Parameter(torch.zeros(d))
        self.q_log_scale = nn.Parameter(torch.full((d,), -1.0))
        self.prior = dist.Normal(torch.zeros(d), torch.ones(d))

    def q(self):
        return dist.Normal(self.q_mean, self.q_log_scale.exp())

    def elbo_terms(self, X, y, n_samples=4):
        q = self.q()
        w = q.sample((n_samples,))  # BUG
        preds = X @ w.T
        log_lik = dist.Normal(preds, 0.5).log_prob(y[:, None]).sum(0).mean()
        kl = dist.kl_divergence(q, self.prior).sum()
        return log_lik, kl


if __name__ == "__main__":
    torch.manual_seed(0)
    X = torch.randn(30, 3)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(30)
    model = VariationalRegression(3)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    log_lik, kl = model.elbo_terms(X, y)
    assert not log_lik.requires_grad  # the data term never reaches q_mean or q_log_scale
    loss = kl - log_lik
    opt.zero_grad()
    loss.backward()
    opt.step()
