"""Optax step helper returns the new parameters and optimizer state packed in a dict; the loop unpacks them and the weights train.

Source: https://crackedaicode.com/problems/optax-full-train-step
Label: clean
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
def sgd_step(carry, x, y):
    params, opt_state = carry["params"], carry["opt_state"]
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return {"params": optax.apply_updates(params, updates), "opt_state": opt_state}, loss


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (32, 4))
    y = x @ jnp.array([0.5, -1.0, 2.0, 0.0]) + 1.0
    params = {"w": jnp.zeros(4), "b": jnp.zeros(())}
    carry = {"params": params, "opt_state": optimizer.init(params)}
    losses = []
    for _ in range(3):
        carry, loss = sgd_step(carry, x, y)
        losses.append(float(loss))
    assert bool(jnp.any(carry["params"]["w"] != 0))
    assert losses[-1] < losses[0]
