"""Binary-activation network in JAX using jnp.sign as the hidden nonlinearity: the first layer never learns.

Source: https://github.com/pytorch/pytorch/issues/1339
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


class BinaryNet:
    def __init__(self, key, d_in=5, d_hidden=8):
        k1, k2 = jax.random.split(key)
        self.params = {"hidden": jax.random.normal(k1, (d_in, d_hidden)),
                       "out": jax.random.normal(k2, (d_hidden, 1)) * 0.1}

    @staticmethod
    def apply(params, x):
        h = jnp.sign(x @ params["hidden"])  # BUG
        return h @ params["out"]

    def loss(self, params, x, y):
        return jnp.mean((self.apply(params, x) - y) ** 2)


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    net = BinaryNet(key)
    x = jax.random.normal(key, (7, 5))
    y = jnp.ones((7, 1))
    grads = jax.grad(net.loss)(net.params, x, y)
    assert float(jnp.abs(grads["hidden"]).sum()) == 0.0
    assert float(jnp.abs(grads["out"]).sum()) > 0
