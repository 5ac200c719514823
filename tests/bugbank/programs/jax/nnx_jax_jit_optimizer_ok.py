"""Flax NNX regression trainer whose step is compiled with nnx.jit: the in-place optimizer.update is carried out of the trace, the weights move.

Source: https://github.com/google/flax/issues/4695
        https://www.tt.run/en/p/2452754
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class Regressor(nnx.Module):
    def __init__(self, din, dhidden, rngs):
        self.hidden = nnx.Linear(din, dhidden, rngs=rngs)
        self.out = nnx.Linear(dhidden, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.gelu(self.hidden(x)))


def mse(model, x, y):
    return jnp.mean((model(x) - y) ** 2)


@nnx.jit
def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(mse)(model, x, y)
    optimizer.update(model, grads)
    return loss


def main():
    model = Regressor(4, 8, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    kx, kw = jax.random.split(jax.random.PRNGKey(1))
    x = jax.random.normal(kx, (16, 4))
    y = x @ jax.random.normal(kw, (4, 1))
    before = jax.tree_util.tree_map(jnp.copy, nnx.state(model, nnx.Param))
    losses = [float(train_step(model, optimizer, x, y)) for _ in range(3)]
    after = nnx.state(model, nnx.Param)
    moved = [bool(jnp.any(a != b)) for a, b in zip(jax.tree_util.tree_leaves(after), jax.tree_util.tree_leaves(before))]
    assert all(moved)
    assert losses[-1] < losses[0]


if __name__ == "__main__":
    main()
