"""Flax NNX regression step with nnx.Optimizer: the inner loss calls the module it is given, and a frozen reference model read from the closure only shapes the target.

Source: https://github.com/google/flax/pull/4333
        https://github.com/google/flax/issues/4476
Label: clean
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


def train_step(model, reference, optimizer, x, y):
    # distillation-style target: the reference is not trained, its output is a constant here
    soft_target = 0.5 * y + 0.5 * jax.lax.stop_gradient(reference(x)[:, 0])

    def objective(net):
        pred = net(x)
        err = pred[:, 0] - soft_target
        return jnp.mean(err ** 2), {"max_err": jnp.max(jnp.abs(err))}

    (loss, stats), grads = nnx.value_and_grad(objective, has_aux=True)(model)
    optimizer.update(model, grads)
    return loss, stats, grads


def run():
    model = TwoLayer(3, 8, nnx.Rngs(0))
    reference = TwoLayer(3, 8, nnx.Rngs(1))
    optimizer = nnx.Optimizer(model, optax.adamw(1e-2), wrt=nnx.Param)
    x = jax.random.normal(jax.random.PRNGKey(2), (16, 3))
    y = jnp.sin(x[:, 0]) + x[:, 1]
    ref_before = [jnp.array(v) for v in jax.tree_util.tree_leaves(nnx.state(reference, nnx.Param))]
    for _ in range(2):
        loss, stats, grads = train_step(model, reference, optimizer, x, y)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    ref_after = jax.tree_util.tree_leaves(nnx.state(reference, nnx.Param))
    assert all(bool(jnp.all(a == b)) for a, b in zip(ref_before, ref_after))
    return loss


if __name__ == "__main__":
    run()
