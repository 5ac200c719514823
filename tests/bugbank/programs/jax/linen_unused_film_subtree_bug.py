"""Flax linen regressor plus a hand-made FiLM sub-tree in the same params dict that the forward pass never reads.

Source: https://github.com/pytorch/pytorch/issues/9976
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


class Body(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.gelu(nn.Dense(16)(x)))


body = Body()


def make_params(key, x):
    return {
        "body": body.init(key, x)["params"],
        "film": {"gamma": jnp.ones((x.shape[-1],)), "beta": jnp.zeros((x.shape[-1],))},  # BUG
    }


def loss_fn(params, x, y):
    pred = body.apply({"params": params["body"]}, x)
    return jnp.mean((pred - y) ** 2)


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (8, 4))
    y = x[:, :1] ** 2
    params = make_params(key, x)
    tx = optax.adam(1e-2)
    opt_state = tx.init(params)
    for _ in range(2):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    assert float(jnp.abs(grads["film"]["gamma"]).sum()) == 0.0 and float(jnp.abs(grads["film"]["beta"]).sum()) == 0.0
    assert bool(jnp.array_equal(params["film"]["gamma"], jnp.ones(4)))
