"""Pyro guide that registers a scale pyro.param but builds its site with a hard-coded scale: the param never trains.

Source: https://forum.pyro.ai/t/how-does-pyro-random-module-match-priors-with-regressionmodel-parameters/528/3
Label: buggy
Family: sampling
Frameworks: torch, pyro
"""
import torch
import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import ClippedAdam


class CoinPosterior:
    def model(self, flips):
        p = pyro.sample("p", dist.Beta(2.0, 2.0))
        with pyro.plate("flips", len(flips)):
            pyro.sample("f", dist.Bernoulli(p), obs=flips)

    def guide(self, flips):
        a = pyro.param("a_q", torch.tensor(2.0), constraint=dist.constraints.positive)
        b = pyro.param("b_q", torch.tensor(2.0), constraint=dist.constraints.positive)  # BUG
        pyro.sample("p", dist.Beta(a, torch.tensor(2.0)))  # BUG


if __name__ == "__main__":
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    flips = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    post = CoinPosterior()
    svi = SVI(post.model, post.guide, ClippedAdam({"lr": 0.05}), loss=Trace_ELBO())
    for _ in range(3):
        svi.step(flips)
    assert abs(pyro.param("b_q").item() - 2.0) < 1e-6
    assert pyro.param("a_q").item() != 2.0
