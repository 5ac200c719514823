"""Flax NNX model whose learnable output scale is an nnx.Variable, not an nnx.Param: the optimizer skips it.

Source: https://github.com/google/flax/issues/4564
        https://github.com/google/flax/pull/3983
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax.numpy as jnp
import optax
from flax import nnx


class ScaledRegressor(nnx.Module):
    def __init__(self, din, rngs):
        self.linear = nnx.Linear(din, 1, rngs=rngs)
        self.scale = nnx.Variable(jnp.ones((1,)))  # BUG

    def __call__(self, x):
        return self.linear(x) * self.scale[...]


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        return jnp.mean((m(x) - y) ** 2)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


if __name__ == "__main__":
    model = ScaledRegressor(3, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    x = jnp.ones((4, 3))
    y = jnp.full((4, 1), 10.0)
    before_kernel = model.linear.kernel[...]
    for _ in range(3):
        train_step(model, optimizer, x, y)
    assert bool(jnp.array_equal(model.scale[...], jnp.ones((1,))))
    assert not bool(jnp.array_equal(model.linear.kernel[...], before_kernel))
