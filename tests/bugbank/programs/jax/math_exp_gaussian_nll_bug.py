"""Heteroscedastic regression in JAX with a learned log-noise: the Gaussian NLL helper turns it into a variance with math.exp, which raises under jax.value_and_grad.

Source: https://jax.readthedocs.io/en/latest/errors.html
        https://taourl.com/read-2012066.html
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import math

import jax
import jax.numpy as jnp
import optax


def init_params(key, dim):
    return {"w": 0.1 * jax.random.normal(key, (dim,)), "b": jnp.zeros(()), "log_sigma": jnp.zeros(())}


def gaussian_nll(mean, target, log_sigma):
    var = math.exp(2.0 * log_sigma)  # BUG
    return 0.5 * jnp.mean((target - mean) ** 2 / var) + log_sigma + 0.5 * math.log(2 * math.pi)


def loss_fn(params, x, y):
    mean = x @ params["w"] + params["b"]
    return gaussian_nll(mean, y, params["log_sigma"])


def fit(x, y, steps=3):
    params = init_params(jax.random.PRNGKey(0), x.shape[1])
    opt = optax.adam(5e-2)
    opt_state = opt.init(params)
    for _ in range(steps):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    return params


if __name__ == "__main__":
    x = jax.random.normal(jax.random.PRNGKey(1), (32, 2))
    y = x @ jnp.array([1.5, -0.5]) + 0.3 * jax.random.normal(jax.random.PRNGKey(2), (32,))
    try:
        fit(x, y)
    except jax.errors.ConcretizationTypeError:
        pass
    else:
        raise AssertionError("math.exp on a traced value should have raised")
