"""Linear regression in JAX: float() only on the loss value returned by value_and_grad, for logging.

Source: https://github.com/jax-ml/jax/issues/2783
Label: clean
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def loss_fn(params, x, y):
    pred = x @ params["w"] + params["b"]
    return 0.5 * jnp.mean((pred - y) ** 2)


def main():
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (8, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3
    params = {"w": jnp.zeros(3), "b": jnp.array(0.0)}
    history = []
    first_grads = None
    for step in range(3):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        first_grads = first_grads or grads
        history.append(float(loss))  # plain number for the log, outside the traced function
        params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    assert float(jnp.abs(first_grads["w"]).sum()) > 0
    assert history[-1] < history[0]


if __name__ == "__main__":
    main()
