"""Notebook-style variational fit of a Poisson rate: a module-level helper returns an
exp-transformed Normal, the script draws from it with .sample() and backpropagates the
Poisson likelihood, so the variational parameters never get a gradient.

Source: https://runebook.dev/en/docs/pytorch/distributions/torch.distributions.transformed_distribution.TransformedDistribution.rsample
Label: buggy
Family: sampling
Frameworks: torch
"""
import torch
import torch.nn.functional as F
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import ExpTransform


def rate_posterior(var_params):
    loc, raw_scale = var_params[0], var_params[1]
    return TransformedDistribution(Normal(loc, F.softplus(raw_scale)), [ExpTransform()])


torch.manual_seed(0)
counts = torch.poisson(torch.full((20,), 3.0))
var_params = torch.zeros(2, requires_grad=True)
optimizer = torch.optim.Adam([var_params], lr=0.05)

failed = False
for step in range(2):
    rates = rate_posterior(var_params).sample((16,))  # BUG
    nll = F.poisson_nll_loss(rates.unsqueeze(-1).expand(16, 20), counts, log_input=False)
    optimizer.zero_grad()
    try:
        nll.backward()
    except RuntimeError as err:
        assert "does not require grad" in str(err)
        failed = True
        break
    optimizer.step()

assert failed and var_params.grad is None
