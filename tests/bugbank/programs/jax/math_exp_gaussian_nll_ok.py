"""Heteroscedastic regression in JAX with a learned log-noise: jnp.exp builds the variance, and math only computes the constant log(2*pi) term.

Source: https://jax.readthedocs.io/en/latest/errors.html
        https://taourl.com/read-2012066.html
Label: clean
Family: jax
Frameworks: jax, optax
"""
import math

import jax
import jax.numpy as jnp
import optax

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def init_params(key, dim):
    return {"w": 0.1 * jax.random.normal(key, (dim,)), "b": jnp.zeros(()), "log_sigma": jnp.zeros(())}


def gaussian_nll(mean, target, log_sigma):
    var = jnp.exp(2.0 * log_sigma)
    return 0.5 * jnp.mean((target - mean) ** 2 / var) + log_sigma + HALF_LOG_2PI


def loss_fn(params, x, y):
    mean = x @ params["w"] + params["b"]
    return gaussian_nll(mean, y, params["log_sigma"])


def fit(x, y, steps=3):
    params = init_params(jax.random.PRNGKey(0), x.shape[1])
    opt = optax.adam(5e-2)
    opt_state = opt.init(params)
    lr_log = []
    for _ in range(steps):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        lr_log.append(math.sqrt(float(loss) ** 2))  # logging on a concrete float is fine
    return params, grads


if __name__ == "__main__":
    x = jax.random.normal(jax.random.PRNGKey(1), (32, 2))
    y = x @ jnp.array([1.5, -0.5]) + 0.3 * jax.random.normal(jax.random.PRNGKey(2), (32,))
    params, grads = fit(x, y)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert float(params["log_sigma"]) != 0.0
