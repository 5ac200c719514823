"""Flax NNX regression step with nnx.Optimizer: the inner loss takes the module to differentiate but calls the outer model, so nnx.value_and_grad returns zero gradients.

Source: https://github.com/google/flax/pull/4333
        https://github.com/google/flax/issues/4476
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class TwoLayer(nnx.Module):
    def __init__(self, din, dhidden, rngs):
        self.hidden = nnx.Linear(din, dhidden, rngs=rngs)
        self.out = nnx.Linear(dhidden, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.gelu(self.hidden(x)))


def train_step(model, optimizer, x, y):
    def objective(net):
        pred = model(x)  # BUG
        err = pred[:, 0] - y
        return jnp.mean(err ** 2), {"max_err": jnp.max(jnp.abs(err))}

    (loss, stats), grads = nnx.value_and_grad(objective, has_aux=True)(model)
    optimizer.update(model, grads)
    return loss, stats, grads


def run():
    rngs = nnx.Rngs(0)
    model = TwoLayer(3, 8, rngs)
    optimizer = nnx.Optimizer(model, optax.adamw(1e-2), wrt=nnx.Param)
    x = jax.random.normal(jax.random.PRNGKey(2), (16, 3))
    y = jnp.sin(x[:, 0]) + x[:, 1]
    before = jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))
    before = [jnp.array(v) for v in before]
    for _ in range(2):
        loss, stats, grads = train_step(model, optimizer, x, y)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    after = jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))
    # adamw with zero gradients only decays the weights: the loss never steers them
    return loss, before, after


if __name__ == "__main__":
    run()
