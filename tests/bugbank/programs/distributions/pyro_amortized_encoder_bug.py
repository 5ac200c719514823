"""Pyro amortized inference: the guide runs an nn.Module encoder without pyro.module, so SVI never updates the encoder.

Source: https://forum.pyro.ai/t/how-does-pyro-random-module-match-priors-with-regressionmodel-parameters/528
        https://leeroopedia.com/index.php/Principle:Pyro_ppl_Pyro_Neural_Module_Registration
Label: buggy
Family: sampling
Frameworks: torch, pyro
"""
import torch
import torch.nn as nn
import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import Adam


class Encoder(nn.Module):
    def __init__(self, x_dim, z_dim):
        super().__init__()
        self.hidden = nn.Linear(x_dim, 8)
        self.loc = nn.Linear(8, z_dim)
        self.log_scale = nn.Linear(8, z_dim)

    def forward(self, x):
        h = torch.tanh(self.hidden(x))
        return self.loc(h), self.log_scale(h).exp()


X_DIM, Z_DIM = 4, 2
decoder = nn.Linear(Z_DIM, X_DIM)
encoder = Encoder(X_DIM, Z_DIM)


def model(x):
    pyro.module("decoder", decoder)
    with pyro.plate("batch", x.shape[0]):
        z = pyro.sample("z", dist.Normal(torch.zeros(Z_DIM), 1.0).to_event(1))
        pyro.sample("x", dist.Normal(decoder(z), 0.5).to_event(1), obs=x)


def guide(x):
    with pyro.plate("batch", x.shape[0]):
        loc, scale = encoder(x)  # BUG
        pyro.sample("z", dist.Normal(loc, scale).to_event(1))


if __name__ == "__main__":
    pyro.set_rng_seed(0)
    pyro.clear_param_store()
    data = torch.randn(16, X_DIM)
    enc_before = encoder.hidden.weight.detach().clone()
    dec_before = decoder.weight.detach().clone()
    svi = SVI(model, guide, Adam({"lr": 0.05}), loss=Trace_ELBO())
    for _ in range(3):
        svi.step(data)
    assert torch.equal(enc_before, encoder.hidden.weight.detach())
    assert not torch.equal(dec_before, decoder.weight.detach())
