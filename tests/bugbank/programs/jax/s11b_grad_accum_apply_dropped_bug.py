"""Gradient accumulation for a Flax TrainState: the helper that applies the averaged grads calls state.apply_gradients but returns the old state, so the model never changes.

Source: https://github.com/google/flax/issues/1810
Label: buggy
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


class Accumulator:
    def __init__(self, state, every):
        self.state = state
        self.every = every
        self.acc = None
        self.count = 0

    def add(self, grads):
        if self.acc is None:
            self.acc = grads
        else:
            self.acc = jax.tree_util.tree_map(lambda a, g: a + g, self.acc, grads)
        self.count += 1
        if self.count == self.every:
            self.flush()

    def flush(self):
        mean = jax.tree_util.tree_map(lambda g: g / self.count, self.acc)
        self.state.apply_gradients(grads=mean)  # BUG
        self.acc, self.count = None, 0


def loss_fn(params, apply_fn, x, y):
    return jnp.mean((apply_fn({"params": params}, x) - y) ** 2)


model = Regressor()
xs = jax.random.normal(jax.random.PRNGKey(0), (4, 6, 3))
ys = jnp.sum(xs, axis=-1, keepdims=True)
params = model.init(jax.random.PRNGKey(1), xs[0])["params"]
accum = Accumulator(TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(0.05)), every=2)
for i in range(4):
    g = jax.grad(loss_fn)(accum.state.params, accum.state.apply_fn, xs[i], ys[i])
    accum.add(g)

assert bool(jnp.any(g["Dense_0"]["kernel"] != 0))
assert bool(jnp.all(accum.state.params["Dense_0"]["kernel"] == params["Dense_0"]["kernel"]))
