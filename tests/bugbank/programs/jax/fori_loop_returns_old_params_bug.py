"""Optax training written as jax.lax.fori_loop: the body computes the updated params under a new name but returns the carry's old params, so fit() hands back the initial weights.

Source: https://github.com/QuantEcon/lecture-jax/pull/253
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def mse(params, x, y):
    pred = x @ params["w"] + params["b"]
    return jnp.mean((pred - y) ** 2)


def fit(params, x, y, n_steps=5, lr=0.05):
    tx = optax.adam(lr)

    def train_step(i, carry):
        params, opt_state = carry
        grads = jax.grad(mse)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)  # BUG
        return params, opt_state  # BUG

    params, _ = jax.lax.fori_loop(0, n_steps, train_step, (params, tx.init(params)))
    return params


if __name__ == "__main__":
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (32, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3
    init = {"w": 0.1 * jax.random.normal(kw, (3,)), "b": jnp.array(0.0)}
    g = jax.grad(mse)(init, x, y)
    assert bool(jnp.any(g["w"] != 0))
    trained = jax.jit(fit)(init, x, y)
    assert bool(jnp.all(trained["w"] == init["w"])) and bool(trained["b"] == init["b"])
