"""Pyro (1.9.2, on torch 2.13.0)."""
from gradscan.frameworks import Api

# `pyro.param(name, init)` is a trainable weight of the guide: SVI's optimizer updates it
# (py42: SVI steps the params its loss reaches).
WEIGHT_FACTORIES = (
    Api("pyro.param", "py42"),
    # `self.loc = PyroParam(init)` in a PyroModule: a trainable parameter of the module
    Api("pyro.nn.PyroParam", "py42"),
    Api("pyro.nn.module.PyroParam", "py42"),
)

# Inference objects that differentiate the ELBO of the model and guide they are given: those
# functions are differentiable roots (py42).
SVI_CLASSES = (
    Api("pyro.infer.SVI", "py42"),
    Api("pyro.infer.svi.SVI", "py42"),
)

# What the ELBO differentiates inside a model or guide: the distribution given to
# `pyro.sample` (its parameters' gradient reaches `pyro.param`s through it, py42).
SAMPLE_SITES = (
    Api("pyro.sample", "py42"),
)
