"""Flax linen TrainState with gradient accumulation: gradients are summed every step and applied with jax.lax.cond only every k-th step, so some calls leave the params unchanged on purpose.

Source: https://github.com/google/flax/issues/1810
        https://github.com/huggingface/transformers/pull/12675
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
from typing import Any

import jax
import jax.numpy as jnp
import optax
import flax.linen as nn
from flax.training import train_state


class AccumState(train_state.TrainState):
    grad_accum: Any
    accum_steps: int = 2


class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.silu(nn.Dense(8)(x)))[:, 0]


@jax.jit
def train_step(state, x, y):
    def compute_loss(params):
        return jnp.mean((state.apply_fn({"params": params}, x) - y) ** 2)

    loss, grads = jax.value_and_grad(compute_loss)(state.params)
    accum = jax.tree_util.tree_map(jnp.add, state.grad_accum, grads)
    n = (state.step + 1)

    def apply(_):
        mean = jax.tree_util.tree_map(lambda g: g / state.accum_steps, accum)
        new = state.apply_gradients(grads=mean)
        return new.replace(grad_accum=jax.tree_util.tree_map(jnp.zeros_like, accum))

    def keep(_):
        return state.replace(step=state.step + 1, grad_accum=accum)

    return jax.lax.cond(n % state.accum_steps == 0, apply, keep, None), loss, grads


if __name__ == "__main__":
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    net = Net()
    params = net.init(k1, jnp.ones((1, 3)))["params"]
    state = AccumState.create(apply_fn=net.apply, params=params, tx=optax.sgd(0.1),
                              grad_accum=jax.tree_util.tree_map(jnp.zeros_like, params))
    x = jax.random.normal(k2, (8, 3))
    y = x[:, 0] - x[:, 2]
    s1, _, grads = train_step(state, x, y)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    s2, _, _ = train_step(s1, x, y)
    moved = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), params, s2.params)
    assert all(jax.tree_util.tree_leaves(moved))
