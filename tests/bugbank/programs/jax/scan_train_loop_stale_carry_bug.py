"""Whole training loop compiled as one jax.lax.scan over stacked minibatches: the body applies the optax update to new_params but hands the incoming params back as the carry, so every step restarts from the initial weights.

Source: https://crackedaicode.com/problems/jax-scan-training-step
        https://crackedaicode.com/problems/optax-multi-step-loss-curve
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax

optimizer = optax.adam(5e-2)


def predict(params, x):
    return x @ params["w"] + params["b"]


def batch_loss(params, batch):
    x, y = batch
    return jnp.mean((predict(params, x) - y) ** 2)


def body(carry, batch):
    params, opt_state = carry
    loss, grads = jax.value_and_grad(batch_loss)(params, batch)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)  # BUG
    return (params, opt_state), loss  # BUG


@jax.jit
def fit(params, xs, ys):
    (final, _), losses = jax.lax.scan(body, (params, optimizer.init(params)), (xs, ys))
    return final, losses


if __name__ == "__main__":
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    xs = jax.random.normal(kx, (6, 8, 3))
    ys = xs @ jnp.array([[1.0], [-2.0], [0.5]]) + 1.0
    params = {"w": jax.random.normal(kw, (3, 1)) * 0.1, "b": jnp.zeros(1)}
    final, losses = fit(params, xs, ys)
    assert bool(jnp.all(final["w"] == params["w"])) and bool(jnp.all(final["b"] == params["b"]))
    grads = jax.grad(batch_loss)(params, (xs[0], ys[0]))
    assert bool(jnp.any(grads["w"] != 0))
