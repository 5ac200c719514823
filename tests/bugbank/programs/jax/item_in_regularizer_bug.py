"""MLP in JAX whose weight-decay helper reads the norm with .item(): under jax.grad it becomes a constant, decay adds no gradient.

Source: https://github.com/jax-ml/jax/issues/9085
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def init(key):
    k1, k2 = jax.random.split(key)
    return {"w1": jax.random.normal(k1, (4, 8)) * 0.3, "w2": jax.random.normal(k2, (8, 1)) * 0.3}


def forward(params, x):
    return jnp.tanh(x @ params["w1"]) @ params["w2"]


def weight_decay(params, coef=1e-3):
    total = 0.0
    for leaf in jax.tree_util.tree_leaves(params):
        total += jnp.sum(leaf ** 2).item()  # BUG
    return coef * total


def loss_fn(params, x, y):
    return jnp.mean((forward(params, x) - y) ** 2) + weight_decay(params)


def data_loss(params, x, y):
    return jnp.mean((forward(params, x) - y) ** 2)


if __name__ == "__main__":
    params = init(jax.random.PRNGKey(1))
    x = jnp.ones((5, 4))
    y = jnp.zeros((5, 1))
    g_total = jax.grad(loss_fn)(params, x, y)
    g_data = jax.grad(data_loss)(params, x, y)
    # the decay term's gradient (2 * coef * w, non-zero) never arrives: both gradients are identical
    for k in params:
        assert bool(jnp.array_equal(g_total[k], g_data[k])), k
    assert float(jnp.abs(params["w1"]).sum()) > 0
