"""Flat JAX regression script: the loss differentiates its argument p but predicts with the global params, so grad is all zeros.

Source: https://jax.readthedocs.io/en/latest/faq.html
        https://theneuralbase.com/jax/learn/intermediate/params-as-explicit-state/
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp
from jax import grad

key = jax.random.PRNGKey(42)
k1, k2, k3 = jax.random.split(key, 3)
params = {"w1": jax.random.normal(k1, (3, 5)) * 0.3, "w2": jax.random.normal(k2, (5,)) * 0.3}
X = jax.random.normal(k3, (20, 3))
Y = jnp.sin(X[:, 0]) + X[:, 1]


def net(params, x):
    return jnp.tanh(x @ params["w1"]) @ params["w2"]


def loss(p, x, y):
    err = net(params, x) - y  # BUG
    return jnp.mean(err ** 2)


dloss = grad(loss)
first = None
for step in range(3):
    g = dloss(params, X, Y)
    if first is None:
        first = g
    params = {k: params[k] - 0.05 * g[k] for k in params}

assert all(bool(jnp.all(v == 0)) for v in first.values())
