"""Quantization-aware training in JAX with a straight-through estimator: rounded forward, identity backward.

Source: https://github.com/keras-team/keras/issues/11157
        https://github.com/ericjang/gumbel-softmax/issues/12
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def quantize_ste(w, scale=0.1):
    q = jnp.round(w / scale) * scale
    return w + jax.lax.stop_gradient(q - w)


def model(params, x):
    return jnp.tanh(x @ quantize_ste(params["w1"])) @ quantize_ste(params["w2"])


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
    grads = jax.grad(loss_fn)(params, x, y)
    assert all(float(jnp.abs(g).sum()) > 0 for g in jax.tree_util.tree_leaves(grads))
    updates, opt_state = tx.update(grads, opt_state, params)
    new = optax.apply_updates(params, updates)
    assert not bool(jnp.array_equal(new["w1"], params["w1"]))


if __name__ == "__main__":
    main()
