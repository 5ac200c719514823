"""Quantization-aware training in JAX that rounds the weights with jnp.round and no estimator: zero gradient.

Source: https://github.com/keras-team/keras/issues/11157
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def quantize(w, scale=0.1):
    return jnp.round(w / scale) * scale  # BUG


def model(params, x):
    return jnp.tanh(x @ quantize(params["w1"])) @ quantize(params["w2"])


def loss_fn(params, x, y):
    return jnp.mean((model(params, x) - y) ** 2)


def main():
    key = jax.random.PRNGKey(0)
    k1, k2, k3 = jax.random.split(key, 3)
    params = {"w1": jax.random.normal(k1, (3, 8)), "w2": jax.random.normal(k2, (8, 1))}
    x = jax.random.normal(k3, (10, 3))
    y = jnp.sin(x[:, :1])
    tx = optax.adam(1e-2)
    opt_state = tx.init(params)
    start = params
    for _ in range(2):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    assert all(float(jnp.abs(g).sum()) == 0.0 for g in jax.tree_util.tree_leaves(grads))
    assert all(bool(jnp.array_equal(a, b)) for a, b in zip(jax.tree_util.tree_leaves(start), jax.tree_util.tree_leaves(params)))


if __name__ == "__main__":
    main()
