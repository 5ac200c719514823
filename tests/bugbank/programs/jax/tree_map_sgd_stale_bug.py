"""Plain-JAX SGD helper builds the updated pytree with tree_map but returns the old params: training never changes the model.

Source: https://github.com/google/flax/issues/2467
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def predict(params, x):
    return x @ params["w"] + params["b"]


def mse(params, x, y):
    return jnp.mean((predict(params, x) - y) ** 2)


def sgd_step(params, x, y, lr=0.1):
    grads = jax.grad(mse)(params, x, y)
    new_params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)  # BUG
    return params, mse(new_params, x, y)


def fit(params, x, y, epochs=3):
    history = []
    for _ in range(epochs):
        params, loss = sgd_step(params, x, y)
        history.append(loss)
    return params, history


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (10, 2))
    y = x @ jnp.array([1.5, -2.0]) + 0.3
    params = {"w": jnp.zeros(2), "b": jnp.zeros(())}
    trained, history = fit(params, x, y)
    assert bool(jnp.all(trained["w"] == 0)) and bool(trained["b"] == 0)
    assert bool(jnp.any(jax.grad(mse)(trained, x, y)["w"] != 0))
