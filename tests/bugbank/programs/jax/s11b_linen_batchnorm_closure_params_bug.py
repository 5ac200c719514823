"""Flax Linen MLP with BatchNorm: the loss closure takes `params` but applies the model with `state.params` from the enclosing step, so jax.grad differentiates an unused argument and the gradient is all zeros.

Source: https://github.com/google/flax/pull/2536
        https://github.com/google/flax/issues/339
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
from typing import Any

import jax
import jax.numpy as jnp
import flax.linen as nn
import optax
from flax.training import train_state


class BNMLP(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(16)(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        return nn.Dense(1)(nn.relu(x))


class TrainState(train_state.TrainState):
    batch_stats: Any


def make_state(rng, sample):
    model = BNMLP()
    variables = model.init(rng, sample, train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"],
                             batch_stats=variables["batch_stats"], tx=optax.adam(1e-2))


def train_step(state, batch):
    x, y = batch

    def loss_fn(params):  # BUG
        variables = {"params": state.params, "batch_stats": state.batch_stats}  # BUG
        preds, new_vars = state.apply_fn(variables, x, train=True, mutable=["batch_stats"])
        return jnp.mean((preds - y) ** 2), new_vars

    (loss, new_vars), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    return state.replace(batch_stats=new_vars["batch_stats"]), loss, grads


x = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
y = jnp.sum(x, axis=1, keepdims=True)
state = make_state(jax.random.PRNGKey(1), x)
start = state.params
for _ in range(2):
    state, loss, grads = train_step(state, (x, y))

assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), start, state.params)
assert all(jax.tree_util.tree_leaves(same))
