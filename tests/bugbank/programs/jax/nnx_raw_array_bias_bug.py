"""Flax NNX module that stores its output bias as a bare jnp array attribute: nnx.grad and the optimizer never see it.

Source: https://github.com/google/flax/issues/4564
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class Head(nnx.Module):
    def __init__(self, din, dout, rngs):
        self.kernel = nnx.Param(jax.random.normal(rngs.params(), (din, dout)) * 0.1)
        self.bias = jnp.zeros((dout,))  # BUG

    def __call__(self, x):
        return x @ self.kernel[...] + self.bias


def loss_fn(model, x, y):
    return jnp.mean((model(x) - y) ** 2)


if __name__ == "__main__":
    model = Head(4, 2, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)
    x = jnp.ones((6, 4))
    y = jnp.full((6, 2), 3.0)
    for _ in range(3):
        grads = nnx.grad(loss_fn)(model, x, y)
        optimizer.update(model, grads)
    assert "bias" not in grads
    assert bool(jnp.array_equal(model.bias, jnp.zeros((2,))))
