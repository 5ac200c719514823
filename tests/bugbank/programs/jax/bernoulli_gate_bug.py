"""Learned feature gate in JAX: keep-probabilities drawn with jax.random.bernoulli mask the input, the gate never learns.

Source: https://github.com/jax-ml/jax/issues/17555
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def forward(params, x, key):
    keep_prob = jax.nn.sigmoid(params["gate_logits"])
    mask = jax.random.bernoulli(key, keep_prob, shape=x.shape)  # BUG
    return (x * mask) @ params["w"]


def loss_fn(params, x, y, key):
    return jnp.mean((forward(params, x, key) - y) ** 2)


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (16, 5))
    y = x[:, :1] * 3.0
    params = {"gate_logits": jnp.zeros(5), "w": jnp.ones((5, 1)) * 0.1}
    keys = jax.random.split(key, 3)
    for k in keys:
        grads = jax.grad(loss_fn)(params, x, y, k)
        assert float(jnp.abs(grads["gate_logits"]).sum()) == 0.0
        assert float(jnp.abs(grads["w"]).sum()) > 0
        params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    assert bool(jnp.array_equal(params["gate_logits"], jnp.zeros(5)))
