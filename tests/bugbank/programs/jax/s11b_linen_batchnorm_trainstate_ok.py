"""Flax Linen MLP with BatchNorm: a TrainState subclass carries batch_stats, the loss applies the model with mutable=['batch_stats'] and returns the new statistics as aux; the params train and the running stats move.

Source: https://github.com/google/flax/pull/2536
        https://github.com/google/flax/issues/1489
Label: clean
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
    features: int = 16

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(self.features)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x)
        return nn.Dense(1)(x)


class TrainState(train_state.TrainState):
    batch_stats: Any


def create_state(rng, sample):
    model = BNMLP()
    variables = model.init(rng, sample, train=False)
    return TrainState.create(
        apply_fn=model.apply,
        params=variables["params"],
        batch_stats=variables["batch_stats"],
        tx=optax.sgd(0.05, momentum=0.9),
    )


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        preds, updates = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats},
            x, train=True, mutable=["batch_stats"],
        )
        return jnp.mean((preds - y) ** 2), updates

    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    state = state.replace(batch_stats=updates["batch_stats"])
    return state, loss, grads


x = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
y = jnp.sum(x, axis=1, keepdims=True)
state = create_state(jax.random.PRNGKey(1), x)
first_kernel = state.params["Dense_0"]["kernel"]
first_mean = state.batch_stats["BatchNorm_0"]["mean"]
for _ in range(3):
    state, loss, grads = train_step(state, x, y)

assert bool(jnp.any(grads["Dense_0"]["kernel"] != 0))
assert bool(jnp.any(state.params["Dense_0"]["kernel"] != first_kernel))
assert bool(jnp.any(state.batch_stats["BatchNorm_0"]["mean"] != first_mean))
