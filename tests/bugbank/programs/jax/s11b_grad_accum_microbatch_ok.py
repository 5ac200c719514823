"""Gradient accumulation for a Flax TrainState: per-microbatch grads are summed with tree_map inside a lax.fori_loop, averaged, and applied once with state.apply_gradients; the params train.

Source: https://github.com/google/flax/issues/1810
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax
from flax.training.train_state import TrainState


class Regressor(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.swish(nn.Dense(8)(x)))


def loss_fn(params, apply_fn, x, y):
    return jnp.mean((apply_fn({"params": params}, x) - y) ** 2)


def accumulate_gradients(state, xs, ys):
    grad_fn = jax.grad(loss_fn)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, state.params)

    def body(i, acc):
        g = grad_fn(state.params, state.apply_fn, xs[i], ys[i])
        return jax.tree_util.tree_map(jnp.add, acc, g)

    total = jax.lax.fori_loop(0, xs.shape[0], body, zeros)
    return jax.tree_util.tree_map(lambda g: g / xs.shape[0], total)


@jax.jit
def train_step(state, xs, ys):
    grads = accumulate_gradients(state, xs, ys)
    return state.apply_gradients(grads=grads), grads


model = Regressor()
xs = jax.random.normal(jax.random.PRNGKey(0), (4, 6, 3))
ys = jnp.sum(xs, axis=-1, keepdims=True)
params = model.init(jax.random.PRNGKey(1), xs[0])["params"]
state = TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(0.05))
for _ in range(2):
    state, grads = train_step(state, xs, ys)

assert bool(jnp.any(grads["Dense_0"]["kernel"] != 0))
assert bool(jnp.any(state.params["Dense_0"]["kernel"] != params["Dense_0"]["kernel"]))
