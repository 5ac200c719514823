"""Oracle proofs for the GS5xx API tables beyond the rules' own examples.

FACTS jx45: every entry of `gradscan.frameworks.jax.TRACER_CONVERSIONS` and
`PYTHON_NUMBER_BUILTINS` raises when given a value `jax.grad` traces (no jit), while the NumPy
reductions the table leaves out (`np.sum`, `np.mean`, ...) work on tracers.
"""
from __future__ import annotations

import builtins
import importlib

import pytest

from gradscan.frameworks import jax as jax_api

pytestmark = pytest.mark.oracle

# Arguments beyond the traced array for the functions that need them.
_EXTRA = {
    "numpy.clip": (0.0, 1.0), "numpy.power": (2.0,), "numpy.tile": (2,), "math.pow": (2.0,), "math.hypot": (1.0,),
    "math.atan2": (1.0,),
}
_PAIRED = {"numpy.maximum", "numpy.minimum", "numpy.dot", "numpy.matmul", "numpy.logaddexp", "numpy.multiply",
           "numpy.add", "numpy.subtract", "numpy.divide", "numpy.true_divide"}


def _function(name: str):
    module, _, attr = name.rpartition(".")
    if not module:
        return getattr(builtins, attr)
    return getattr(importlib.import_module(module), attr)


def _apply(name: str, f, w):
    """Call `f` on the traced vector `w` (a scalar for `math` and the builtins)."""
    if name.startswith("math.") or "." not in name:
        return f(w.sum() * 0.3, *_EXTRA.get(name, ()))
    if name == "numpy.where":
        return f(w > 0, w, 0.0)
    if name == "numpy.einsum":
        return f("i,i->", w, w)
    if name in ("numpy.concatenate", "numpy.stack"):
        return f([w, w])
    if name in _PAIRED:
        return f(w, w)
    return f(w, *_EXTRA.get(name, ()))


def test_tracer_conversions_raise_under_grad():
    """jx45: each conversion raises ConcretizationTypeError / TracerArrayConversionError."""
    jax = pytest.importorskip("jax", reason="the GS504 oracle proof needs JAX")
    import jax.numpy as jnp

    x = jnp.array([0.2, 0.4])
    errors = (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError)
    names = sorted(a.name for a in (*jax_api.TRACER_CONVERSIONS, *jax_api.PYTHON_NUMBER_BUILTINS))
    survived = []
    for name in names:
        f = _function(name)
        try:
            jax.grad(lambda w: jnp.sum(jnp.real(jnp.asarray(_apply(name, f, w)))))(x)
        except errors:
            continue
        survived.append(name)
    assert not survived, f"these do not raise on a tracer under jax.grad: {survived}"


def test_numpy_reductions_work_on_tracers():
    """jx45: np.sum / np.mean / np.max / np.std call the array's method: no error, a real gradient."""
    jax = pytest.importorskip("jax", reason="the GS504 oracle proof needs JAX")
    import jax.numpy as jnp
    import numpy as np

    x = jnp.array([0.2, 0.4])
    for f in (np.sum, np.mean, np.max, np.std):
        g = jax.grad(lambda w: f(w) * 1.0)(x)
        assert bool(jnp.any(g != 0.0)), f"{f.__name__}: {g}"
    listed = {a.name for a in jax_api.TRACER_CONVERSIONS}
    assert not listed & {"numpy.sum", "numpy.mean", "numpy.max", "numpy.std"}


@pytest.mark.parametrize("method", [api.name for api in jax_api.CONVERSION_METHODS])
def test_conversion_methods_raise_under_jit_grad(method):
    """FACT jx40: under `jit` (around the transform, or a jitted step calling it) the traced value
    has no concrete value: `.item()` and `.tolist()` raise ConcretizationTypeError (GS504)."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    def loss(w):
        return jnp.sum(w ** 2) * jnp.sum(jnp.asarray(getattr(w.mean(), method)()))

    w = jnp.array([1.0, 2.0])
    with pytest.raises(jax.errors.ConcretizationTypeError):
        jax.jit(jax.grad(loss))(w)

    @jax.jit
    def step(w):
        return jax.value_and_grad(loss)(w)

    with pytest.raises(jax.errors.ConcretizationTypeError):
        step(w)


def test_jit_and_keyword_partial_keep_argnums():
    """FACT jx46: `jax.jit(jax.grad(partial(loss, k=v)))` still differentiates position 0 (the
    data when the loss takes it first); a positional partial shifts the positions (GS505)."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    from functools import partial

    def loss(x, w, y, scale=1.0):
        return scale * (jnp.dot(x, w) - y) ** 2

    x, w, y = jnp.array([1.0, 2.0, 3.0]), jnp.array([0.5, -1.0, 0.25]), jnp.array(0.3)
    g = jax.jit(jax.grad(partial(loss, scale=0.5)))(x, w, y)
    assert bool(jnp.allclose(g, jax.grad(loss, argnums=0)(x, w, y, 0.5)))
    assert not bool(jnp.allclose(g, jax.grad(loss, argnums=1)(x, w, y, 0.5)))
    shifted = jax.grad(partial(loss, x))(w, y)
    assert bool(jnp.allclose(shifted, jax.grad(loss, argnums=1)(x, w, y)))


def test_other_transforms_differentiate_their_arguments():
    """FACT jx49: `jax.jacrev`, `jax.jacfwd` and `jax.hessian` differentiate argument 0 unless
    `argnums` says otherwise (also their second positional argument); `jax.vjp(f, *primals)`,
    `jax.jvp(f, primals, tangents)` and `jax.linearize(f, *primals)` differentiate every primal;
    `check_grads(f, args, order)` checks the derivative of every argument. A `stop_gradient`
    around the prediction gives the weights (and inputs) a silent zero cotangent under `vjp`;
    around the labels only the labels' cotangent is zero; `check_grads` fails on either."""
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    from jax.test_util import check_grads

    def f(a, b):
        return jnp.sin(a) * b ** 2

    a, b = jnp.array([0.3, 1.1]), jnp.array([2.0, -0.5])
    for jac in (jax.jacrev, jax.jacfwd):
        assert bool(jnp.allclose(jac(f)(a, b), jnp.diag(jnp.cos(a) * b ** 2)))  # d/da only
        assert bool(jnp.allclose(jac(f, 1)(a, b), jnp.diag(2 * jnp.sin(a) * b)))
    h = jax.hessian(lambda x, y: jnp.sum(x ** 3 * y))(a, b)
    assert bool(jnp.allclose(h, jnp.diag(6 * a * b)))  # d2/da2, not d/db

    out, pullback = jax.vjp(f, a, b)
    ga, gb = pullback(jnp.ones_like(out))
    assert bool(jnp.allclose(ga, jnp.cos(a) * b ** 2)) and bool(jnp.allclose(gb, 2 * jnp.sin(a) * b))
    _, tangent = jax.jvp(f, (a, b), (jnp.ones_like(a), jnp.ones_like(b)))
    assert bool(jnp.allclose(tangent, jnp.cos(a) * b ** 2 + 2 * jnp.sin(a) * b))
    _, lin = jax.linearize(f, a, b)
    assert bool(jnp.allclose(lin(jnp.ones_like(a), jnp.ones_like(b)), tangent))

    w, x, y = jnp.array([0.4, -0.2]), jnp.array([[1.0, 2.0], [0.5, -1.0]]), jnp.array([0.1, 0.3])

    def frozen(w, x, y):
        return jnp.mean((jax.lax.stop_gradient(jnp.tanh(x @ w)) - y) ** 2)

    def fixed_target(w, x, y):
        return jnp.mean((jnp.tanh(x @ w) - jax.lax.stop_gradient(y)) ** 2)

    _, back = jax.vjp(frozen, w, x, y)
    gw, gx, gy = back(jnp.ones(()))
    assert not bool(jnp.any(gw)) and not bool(jnp.any(gx)) and bool(jnp.any(gy))  # silent zeros
    _, back = jax.vjp(fixed_target, w, x, y)
    gw, gx, gy = back(jnp.ones(()))
    assert bool(jnp.any(gw)) and bool(jnp.any(gx)) and not bool(jnp.any(gy))

    def plain(w, x, y):
        return jnp.mean((jnp.tanh(x @ w) - y) ** 2)

    check_grads(plain, (w, x, y), order=2)
    for cut in (frozen, fixed_target):  # every argument is checked: a cut anywhere fails, loudly
        with pytest.raises(AssertionError):
            check_grads(cut, (w, x, y), order=1, modes=("rev",))
