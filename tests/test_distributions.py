"""semantics/distributions.py: which distribution a value is, and whether a value is from the graph."""
from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from gradscan.semantics import distributions as dists
from gradscan.semantics.model import FileModel


def _model(src: str) -> FileModel:
    src = textwrap.dedent(src).lstrip("\n")
    return FileModel.build(cst.parse_module(src), "example.py", src)


def _sample_receivers(model: FileModel):
    for call, _fn in model.calls:
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "sample":
            yield call.func.value


def _only(model):
    receivers = list(_sample_receivers(model))
    assert len(receivers) == 1
    return dists.distribution_of(model, receivers[0])


@pytest.mark.parametrize(
    "imports, ctor, expected",
    [
        ("import torch.distributions as D", "D.Normal", "torch.distributions.Normal"),
        ("from torch.distributions import Normal", "Normal", "torch.distributions.Normal"),
        ("from torch.distributions import Normal as N", "N", "torch.distributions.Normal"),
        ("import torch", "torch.distributions.normal.Normal", "torch.distributions.Normal"),
        ("import pyro.distributions as dist", "dist.Normal", "pyro.distributions.Normal"),
        ("import tensorflow_probability as tfp\ntfd = tfp.distributions", "tfd.Normal", "tfp.distributions.Normal"),
        ("from tensorflow_probability import distributions as tfd", "tfd.Bernoulli", "tfp.distributions.Bernoulli"),
    ],
)
def test_import_forms(imports, ctor, expected):
    model = _model(f"{imports}\n\ndef f(mu):\n    return {ctor}(mu, 1.0).sample()\n")
    d = _only(model)
    assert d is not None and d.display == expected


def test_reparameterization_and_discreteness():
    assert dists.framework_class("torch.distributions.Normal").reparameterized is True
    assert dists.framework_class("torch.distributions.Bernoulli").reparameterized is False
    assert dists.framework_class("torch.distributions.Bernoulli").discrete
    assert dists.framework_class("tensorflow_probability.distributions.Normal").reparameterized is True
    assert dists.framework_class("tensorflow_probability.distributions.Categorical").discrete
    assert dists.framework_class("torch.distributions.kl_divergence") is None
    assert dists.framework_class("torch.distributions.Independent").wrapper


def test_wrappers_sample_like_their_base():
    model = _model(
        """
        import torch.distributions as D

        def f(mu):
            return D.Independent(D.Bernoulli(logits=mu), 1).sample()
        """
    )
    d = _only(model)
    assert d.cls.name == "Bernoulli" and d.discrete


def test_method_variable_and_encoder_module():
    model = _model(
        """
        import torch
        from torch import nn
        from torch.distributions import Normal

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 4)

            def forward(self, x):
                mu, s = self.fc(x).chunk(2, -1)
                return Normal(mu, s.exp())

        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = Encoder()

            def posterior(self, x):
                return self.encoder(x)

            def forward(self, x):
                q = self.posterior(x)
                return q.sample()
        """
    )
    d = _only(model)
    assert d is not None and d.cls.name == "Normal"
    assert all(dists.from_graph(model, expr, scope) for expr, scope in d.params)


def test_project_subclass_in_file():
    model = _model(
        """
        from torch.distributions import Normal

        class Tempered(Normal):
            pass

        class Own(Normal):
            def sample(self, shape=()):
                return self.rsample(shape)

        def f(mu):
            a = Tempered(mu, 1.0).sample()
            b = Own(mu, 1.0).sample()
        """
    )
    found = [dists.distribution_of(model, r) for r in _sample_receivers(model)]
    assert found[0].cls.subclass == "Tempered" and not found[0].cls.custom_sample
    assert found[1].cls.custom_sample


def test_not_a_distribution():
    model = _model(
        """
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

        def f(h, scheduler):
            a = DiagonalGaussianDistribution(h).sample()
            b = scheduler.sample()
        """
    )
    assert all(dists.distribution_of(model, r) is None for r in _sample_receivers(model))


def test_from_graph():
    model = _model(
        """
        import torch
        from torch import nn

        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Parameter(torch.zeros(3))
                self.fc = nn.Linear(3, 3)
                self.register_buffer("b", torch.ones(3))
                self.scale = 0.5

            def forward(self, x, temperature=1.0):
                h = self.fc(x)
                values = dict(
                    param=self.w, out=h, computed=h.exp() * 2, buffer=self.b, const=self.scale,
                    zeros=torch.zeros_like(h), detached=h.detach(), data=x, hyper=temperature, shape=h.shape,
                )
                return values
        """
    )
    call = next(c for c, _ in model.calls if isinstance(c.func, cst.Name) and c.func.value == "dict")
    verdict = {a.keyword.value: dists.from_graph(model, a.value) for a in call.args}
    assert verdict == {
        "param": True, "out": True, "computed": True, "buffer": False, "const": False, "zeros": False,
        "detached": False, "data": False, "hyper": False, "shape": False,
    }


def test_gs301_names_the_computed_parameter_not_the_configuration():
    from gradscan import check_source

    src = (
        "import torch\n"
        "class Head(torch.nn.Module):\n"
        "    def __init__(self, config):\n"
        "        super().__init__()\n"
        "        self.config = config\n"
        "        self.proj = torch.nn.Linear(4, 4)\n"
        "    def forward(self, x):\n"
        "        d = torch.distributions.RelaxedBernoulli(self.config.temperature, logits=self.proj(x))\n"
        "        return d.sample()\n"
    )
    [finding] = [f for f in check_source(src, path="m.py", select=["GS301"])]
    assert "gives `self.proj(x)` no gradient" in finding.message
