"""Flax linen MLP with a hand-written leaky activation via jnp.where(x > 0, ...): both branches carry gradient.

Source: https://github.com/jax-ml/jax/issues/347
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


def leaky(x, slope=0.05):
    return jnp.where(x > 0, x, slope * x)


class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = leaky(nn.Dense(8)(x))
        return nn.Dense(1)(x)


def main():
    net = Net()
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (10, 3))
    y = jnp.sum(x, axis=1, keepdims=True)
    params = net.init(key, x)
    tx = optax.sgd(0.05)
    opt_state = tx.init(params)

    def loss_fn(p):
        return jnp.mean((net.apply(p, x) - y) ** 2)

    grads = jax.grad(loss_fn)(params)
    assert float(jnp.abs(grads["params"]["Dense_0"]["kernel"]).sum()) > 0
    updates, opt_state = tx.update(grads, opt_state)
    params = optax.apply_updates(params, updates)


if __name__ == "__main__":
    main()
