"""Oracle tier: each rule's BAD example shows its documented runtime effect under the real
framework, its GOOD example behaves, and gradscan flags the BAD line (and not the GOOD source).

Run only this tier with ``pytest tests/oracle`` (or ``-m oracle``); the whole tier skips
cleanly, per framework, when torch / tensorflow / tfp / jax / pyro are not installed.
"""

from __future__ import annotations

import os
import re
import warnings

import pytest

from . import cases_jax, cases_torch_extra, cases_training  # noqa: F401  (their cases register into CASES)
from .cases import CASES, OracleCase

pytestmark = pytest.mark.oracle

# framework name -> modules that must import for its cases to run
_REQUIRES = {
    "torch": ("torch",),
    "tensorflow": ("tensorflow",),
    "tfp": ("tensorflow", "tensorflow_probability"),
    "jax": ("jax",),
    "pyro": ("torch", "pyro"),
    "lightning": ("torch", "lightning"),
}


def _require(framework: str) -> None:
    """Skip (naming the framework) unless its modules import. TensorFlow is imported only here,
    lazily, with its C++ logging silenced first."""
    if framework in ("tensorflow", "tfp"):
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for module in _REQUIRES[framework]:
        pytest.importorskip(module, reason=f"oracle case needs the {framework} framework ({module} is not importable)")


def _marker_lines(src: str, code: str) -> list[int]:
    """1-based line numbers whose trailing comment is exactly the rule code marker."""
    pat = re.compile(rf"#\s*{re.escape(code)}\s*$")
    return [i for i, line in enumerate(src.splitlines(), 1) if pat.search(line)]


def _run(case: OracleCase, which: str) -> None:
    src = case.bad if which == "bad" else case.good
    check = case.check_bad if which == "bad" else case.check_good
    ns: dict = {"__name__": f"oracle_{case.code}_{which}"}
    # Expected framework warnings (e.g. torch.tensor(tensor)) are recorded, not raised, so the
    # tier also works under a project-wide `filterwarnings = error`; checks may read them.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ns["__warnings__"] = caught
        exec(compile(src, f"<oracle {case.code}>", "exec"), ns)
        check(ns)


_PARAMS = [pytest.param(case, id=code) for code, case in CASES.items()]


@pytest.mark.parametrize("case", _PARAMS)
def test_bad_shows_effect(case: OracleCase):
    bad_lines = _marker_lines(case.bad, case.code)
    assert len(bad_lines) == 1, f"BAD source must mark exactly one line with '# {case.code}', found {bad_lines}"
    assert not _marker_lines(case.good, case.code), "GOOD source must not carry the rule marker"
    _require(case.framework)
    _run(case, "bad")


@pytest.mark.parametrize("case", _PARAMS)
def test_good_behaves(case: OracleCase):
    _require(case.framework)
    _run(case, "good")


@pytest.mark.parametrize("case", _PARAMS)
def test_static_agrees(case: OracleCase):
    gradscan = pytest.importorskip("gradscan")
    (line,) = _marker_lines(case.bad, case.code)
    findings = gradscan.check_source(case.bad, path="oracle_bad.py", select=[case.code])
    hits = [f for f in findings if f.code == case.code and f.line == line]
    assert hits, (
        f"{case.code} should be reported on line {line} of the BAD example; got "
        f"{[(f.code, f.line) for f in findings]}"
    )
    good_findings = gradscan.check_source(case.good, path="oracle_good.py", select=[case.code])
    wrong = [(f.code, f.line) for f in good_findings if f.code == case.code]
    assert not wrong, f"{case.code} must not be reported on the GOOD example: {wrong}"


# ------------------------------------------------------------------ contrasts (no rule fires)


def test_contrast_tfp_normal_sample_is_reparameterized():
    """FACTS tf35: unlike torch .sample(), tfd.Normal(...).sample() is FULLY_REPARAMETERIZED."""
    _require("tfp")
    import tensorflow as tf
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    mu = tf.Variable([0.5, -0.5])
    with tf.GradientTape() as tape:
        dist = tfd.Normal(mu, 1.0)
        z = dist.sample(seed=1)
        loss = tf.reduce_sum(z * z)
    grad = tape.gradient(loss, mu)
    assert dist.reparameterization_type == tfd.FULLY_REPARAMETERIZED
    assert grad is not None, "tfd.Normal(...).sample() should pass gradients to mu"
    assert bool((grad.numpy() != 0).all()), f"gradient to mu should be nonzero, got {grad}"


def test_contrast_pyro_sample_uses_rsample():
    """FACTS py42: pyro.sample uses rsample when the distribution has one, so mu gets a gradient."""
    _require("pyro")
    import pyro
    import pyro.distributions as dist
    import torch

    pyro.set_rng_seed(0)
    mu = torch.tensor(0.5, requires_grad=True)
    z = pyro.sample("z", dist.Normal(mu, 1.0))
    (z**2).backward()
    assert z.grad_fn is not None, "pyro.sample of a Normal should be reparameterized"
    assert mu.grad is not None and float(mu.grad) != 0.0, f"mu.grad should be nonzero, got {mu.grad}"


def test_contrast_jax_bernoulli_zero_grad():
    """FACTS jx41 (mentioned by GS303): a jax.random.bernoulli sample gives a silent zero gradient,
    while the reparameterized Gaussian sample passes gradients."""
    _require("jax")
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(0)
    g_bern = jax.grad(lambda p: jnp.sum(jax.random.bernoulli(key, p, (4,)).astype(jnp.float32)))(jnp.float32(0.5))
    assert float(g_bern) == 0.0, f"bernoulli sample should give exactly zero gradient, got {g_bern}"
    # an index drawn by jax.random.choice(p=...) selects from a table: its probabilities get exact zeros
    table = jnp.arange(3.0)
    g_choice = jax.grad(lambda logits: jnp.sum(table[jax.random.choice(key, 3, (4,), p=jax.nn.softmax(logits))]))(
        jnp.zeros(3))
    assert bool((g_choice == 0).all()), f"a choice draw should give its probabilities zero gradient, got {g_choice}"
    g_mu = jax.grad(lambda mu: jnp.sum((mu + jax.random.normal(key, (4,))) ** 2))(jnp.float32(0.5))
    assert float(g_mu) != 0.0, "reparameterized normal sample passes gradients"
    # count samplers: a learned rate or probability gets exact zeros; gamma's shape is reparameterized
    g_rate = jax.grad(lambda lam: jnp.sum(jax.random.poisson(key, lam, (8,)).astype(jnp.float32)))(jnp.float32(3.0))
    assert float(g_rate) == 0.0, f"a poisson draw should give its rate zero gradient, got {g_rate}"
    g_p = jax.grad(lambda p: jnp.sum(jax.random.binomial(key, 10.0, p, (8,))))(jnp.float32(0.4))
    assert float(g_p) == 0.0, f"a binomial draw should give its probability zero gradient, got {g_p}"
    g_shape = jax.grad(lambda a: jnp.sum(jax.random.gamma(key, a, (8,))))(jnp.float32(2.0))
    assert float(g_shape) != 0.0, "a gamma draw passes gradient to its shape (implicit reparameterization)"
