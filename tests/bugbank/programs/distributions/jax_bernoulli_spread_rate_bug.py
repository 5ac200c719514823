"""Differentiable agent-based model fitting an infection rate with jax.random.bernoulli(key, p): the gradient of the loss in p is exactly zero.

Source: https://github.com/jax-ml/jax/issues/11606
Label: buggy
Family: sampling
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def simulate(rate, key, n_agents=200):
    infected = jax.random.bernoulli(key, p=jnp.full((n_agents,), rate))  # BUG
    return jnp.sum(infected.astype(jnp.float32))


def loss(rate, key, observed):
    return (simulate(rate, key) - observed) ** 2


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    observed = 60.0
    rate = 0.5
    for step in range(3):
        key, sub = jax.random.split(key)
        g = jax.grad(loss)(rate, sub, observed)
        assert float(g) == 0.0
        rate = rate - 1e-4 * g
    assert rate == 0.5
