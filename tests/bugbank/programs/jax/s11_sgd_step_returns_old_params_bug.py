"""Optax step helper computes the new parameters but returns the old ones: the loop never changes the weights.

Source: https://crackedaicode.com/problems/optax-sgd-step
        https://crackedaicode.com/problems/optax-full-train-step
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def predict(params, x):
    return x @ params["w"] + params["b"]


def loss_fn(params, x, y):
    return jnp.mean((predict(params, x) - y) ** 2)


optimizer = optax.adamw(learning_rate=0.05, weight_decay=1e-4)


@jax.jit
def sgd_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, new_opt_state = optimizer.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)  # BUG
    return params, new_opt_state, loss  # BUG


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (32, 4))
    y = x @ jnp.array([0.5, -1.0, 2.0, 0.0]) + 1.0
    params = {"w": jnp.zeros(4), "b": jnp.zeros(())}
    opt_state = optimizer.init(params)
    losses = []
    for _ in range(3):
        params, opt_state, loss = sgd_step(params, opt_state, x, y)
        losses.append(float(loss))
    assert bool(jnp.all(params["w"] == 0)) and float(params["b"]) == 0.0
    assert losses[0] == losses[-1]
