"""Weight quantisation in a plain-JAX linear model with the straight-through trick written backwards, round(w) + stop_gradient(w - round(w)): the only differentiable path runs through jnp.round, so the weights get zero gradient.

Source: https://crackedaicode.com/problems/jax-straight-through-estimator
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def fake_quant(w, scale=8.0):
    q = jnp.round(w * scale) / scale
    return q + jax.lax.stop_gradient(w - q)  # BUG


class QuantLinear:
    def __init__(self, key, din, dout):
        self.params = {"w": jax.random.normal(key, (din, dout)) * 0.3, "b": jnp.zeros(dout)}

    @staticmethod
    def apply(params, x):
        return x @ fake_quant(params["w"]) + params["b"]


def loss_fn(params, x, y):
    return jnp.mean((QuantLinear.apply(params, x) - y) ** 2)


if __name__ == "__main__":
    kx, kl = jax.random.split(jax.random.PRNGKey(4))
    layer = QuantLinear(kl, 3, 2)
    x = jax.random.normal(kx, (16, 3))
    y = x @ jnp.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 0.125]]) + 0.3
    tx = optax.sgd(0.1)
    opt_state = tx.init(layer.params)
    params = layer.params
    for _ in range(2):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
    assert bool(jnp.all(grads["w"] == 0))
    assert bool(jnp.any(grads["b"] != 0))
    assert bool(jnp.all(params["w"] == layer.params["w"]))
