"""Ordinal regression in JAX that casts the predicted score to an int bucket before the loss: zero gradient.

Source: https://github.com/jax-ml/jax/issues/2783
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def score(w, x):
    return 5.0 * jax.nn.sigmoid(x @ w)


def loss_fn(w, x, stars):
    bucket = score(w, x).astype(jnp.int32)  # BUG
    return jnp.mean((bucket - stars) ** 2.0)


if __name__ == "__main__":
    key = jax.random.PRNGKey(5)
    x = jax.random.normal(key, (9, 4))
    stars = jnp.arange(9) % 5
    w = jax.random.normal(jax.random.PRNGKey(6), (4,))
    for _ in range(3):
        g = jax.grad(loss_fn)(w, x, stars)
        w = w - 0.1 * g
    assert float(jnp.abs(g).sum()) == 0.0
