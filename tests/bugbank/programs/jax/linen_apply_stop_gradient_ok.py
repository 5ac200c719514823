"""BYOL-style step in Flax linen: the EMA target network's projection is wrapped in stop_gradient, the online network trains.

Source: https://github.com/google/flax/issues/1857
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn


class Projector(nn.Module):
    dim: int = 4

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.dim)(nn.tanh(nn.Dense(8)(x)))


net = Projector()


def byol_loss(online_params, target_params, view_a, view_b):
    online = net.apply(online_params, view_a)
    target = jax.lax.stop_gradient(net.apply(target_params, view_b))
    online = online / jnp.linalg.norm(online, axis=-1, keepdims=True)
    target = target / jnp.linalg.norm(target, axis=-1, keepdims=True)
    return jnp.mean(jnp.sum((online - target) ** 2, axis=-1))


def ema(target_params, online_params, tau=0.9):
    return jax.tree_util.tree_map(lambda t, o: tau * t + (1 - tau) * o, target_params, online_params)


if __name__ == "__main__":
    key_a, key_b, key_i = jax.random.split(jax.random.PRNGKey(1), 3)
    view_a = jax.random.normal(key_a, (6, 5))
    view_b = view_a + 0.1 * jax.random.normal(key_b, (6, 5))
    online_params = net.init(key_i, view_a)
    target_params = jax.tree_util.tree_map(lambda p: p + 0.05, online_params)
    tx = optax.adam(1e-2)
    opt_state = tx.init(online_params)
    grad_fn = jax.jit(jax.grad(byol_loss))
    grads = grad_fn(online_params, target_params, view_a, view_b)
    updates, opt_state = tx.update(grads, opt_state, online_params)
    new_online = optax.apply_updates(online_params, updates)
    target_params = ema(target_params, new_online)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
