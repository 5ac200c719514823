"""Flax NNX model trained through the functional API: jax.jit train_step returns the new State, the loop keeps it, but the model is never nnx.update()d, so the model used afterwards still holds its initial weights.

Source: https://github.com/google/flax/pull/3819
        https://github.com/google/flax/pull/3707
Label: buggy
Family: jax
Frameworks: jax, flax
"""
import jax
import jax.numpy as jnp
from flax import nnx


class Regressor(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(3, 8, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


@jax.jit
def train_step(graphdef, state, x, y):
    def loss_fn(state):
        model = nnx.merge(graphdef, state)
        return jnp.mean((model(x) - y) ** 2)

    grads = jax.grad(loss_fn)(state)
    return jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, state, grads)


def fit(model, x, y, epochs=3):
    graphdef, state = nnx.split(model)
    for _ in range(epochs):
        state = train_step(graphdef, state, x, y)
    return model  # BUG


if __name__ == "__main__":
    model = Regressor(nnx.Rngs(0))
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 3))
    y = x.sum(axis=1, keepdims=True)
    before = model.out.kernel[...].copy()
    trained = fit(model, x, y)
    assert bool(jnp.all(trained.out.kernel[...] == before))
