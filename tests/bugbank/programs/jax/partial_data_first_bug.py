"""Online linear regression in JAX: the loss takes the sample first and the weights second, jax.jit(jax.grad(partial(...))) differentiates the sample.

Source: https://stackoverflow.com/questions/66466941/understanding-jax-argnums-parameter-in-its-gradient-function
Label: buggy
Family: jax
Frameworks: jax
"""
from functools import partial

import jax
import jax.numpy as jnp


def weighted_sq_error(features, weights, target, sample_weight=1.0):
    pred = jnp.dot(features, weights)
    return sample_weight * (pred - target) ** 2


def make_update(sample_weight, lr):
    loss = partial(weighted_sq_error, sample_weight=sample_weight)
    grad_fn = jax.jit(jax.grad(loss))  # BUG

    def update(weights, features, target):
        g = grad_fn(features, weights, target)
        return weights - lr * g, g

    return update


if __name__ == "__main__":
    key = jax.random.PRNGKey(3)
    xs = jax.random.normal(key, (5, 4))
    true_w = jnp.array([1.0, -0.5, 2.0, 0.3])
    ys = xs @ true_w
    update = make_update(0.5, 0.05)
    w = jnp.array([0.2, 0.1, -0.1, 0.4])
    for x, y in zip(xs, ys):
        new_w, g = update(w, x, y)
        by_weights = jax.grad(weighted_sq_error, argnums=1)(x, w, y, 0.5)
        by_features = jax.grad(weighted_sq_error, argnums=0)(x, w, y, 0.5)
        assert bool(jnp.allclose(g, by_features))
        assert not bool(jnp.allclose(g, by_weights))
        w = new_w
