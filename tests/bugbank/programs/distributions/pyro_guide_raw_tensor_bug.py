"""Bayesian linear regression in Pyro: the guide's variational means are raw requires_grad tensors, not pyro.param, so SVI never moves them.

Source: https://leeroopedia.com/index.php/Principle:Pyro_ppl_Pyro_Learnable_Parameters
        https://forum.pyro.ai/t/align-latent-variables-in-model-and-guide-without-sample/701
Label: buggy
Family: sampling
Frameworks: torch, pyro
"""
import torch
import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
import pyro.optim


class MeanFieldGuide:
    def __init__(self, n_features):
        self.w_loc = torch.zeros(n_features, requires_grad=True)  # BUG
        self.w_log_scale = torch.full((n_features,), -2.0, requires_grad=True)  # BUG

    def __call__(self, x, y=None):
        pyro.sample("w", dist.Normal(self.w_loc, self.w_log_scale.exp()).to_event(1))


def model(x, y=None):
    w = pyro.sample("w", dist.Normal(torch.zeros(x.shape[1]), 2.0).to_event(1))
    with pyro.plate("data", x.shape[0]):
        pyro.sample("y", dist.Normal(x @ w, 0.3), obs=y)


pyro.set_rng_seed(0)
pyro.clear_param_store()
x = torch.randn(30, 3)
y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(30)
guide = MeanFieldGuide(3)
svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.1}), loss=Trace_ELBO())
for _ in range(3):
    svi.step(x, y)

assert torch.equal(guide.w_loc.detach(), torch.zeros(3))
assert len(list(pyro.get_param_store().keys())) == 0
