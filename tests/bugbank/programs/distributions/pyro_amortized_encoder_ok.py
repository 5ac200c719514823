"""Pyro amortized inference with a PyroModule encoder: its parameters live in the param store without a pyro.module call.

Source: https://leeroopedia.com/index.php/Implementation:Pyro_ppl_Pyro_PyroModule_Class
Label: clean
Family: sampling
Frameworks: torch, pyro
"""
import torch
from torch import nn
import pyro
import pyro.distributions as dist
from pyro.infer import SVI, Trace_ELBO
from pyro.nn import PyroModule
from pyro.optim import Adam


class Encoder(PyroModule):
    def __init__(self, x_dim, z_dim):
        super().__init__()
        self.hidden = PyroModule[nn.Linear](x_dim, 8)
        self.loc = PyroModule[nn.Linear](8, z_dim)
        self.log_scale = PyroModule[nn.Linear](8, z_dim)

    def forward(self, x):
        h = torch.tanh(self.hidden(x))
        return self.loc(h), self.log_scale(h).exp()


class Decoder(PyroModule):
    def __init__(self, z_dim, x_dim):
        super().__init__()
        self.out = PyroModule[nn.Linear](z_dim, x_dim)

    def forward(self, z):
        return self.out(z)


def make_pair(x_dim, z_dim):
    encoder, decoder = Encoder(x_dim, z_dim), Decoder(z_dim, x_dim)

    def model(x):
        with pyro.plate("batch", x.shape[0]):
            z = pyro.sample("z", dist.Normal(torch.zeros(z_dim), 1.0).to_event(1))
            pyro.sample("x", dist.Normal(decoder(z), 0.5).to_event(1), obs=x)

    def guide(x):
        with pyro.plate("batch", x.shape[0]):
            loc, scale = encoder(x)
            pyro.sample("z", dist.Normal(loc, scale).to_event(1))

    return encoder, decoder, model, guide


pyro.set_rng_seed(0)
pyro.clear_param_store()
encoder, decoder, model, guide = make_pair(4, 2)
data = torch.randn(16, 4)
enc_before = encoder.hidden.weight.detach().clone()
svi = SVI(model, guide, Adam({"lr": 0.05}), loss=Trace_ELBO())
for _ in range(3):
    svi.step(data)
assert not torch.equal(enc_before, encoder.hidden.weight.detach())
