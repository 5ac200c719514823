"""Flax NNX regression step: the loss function stores float(loss) for its metrics dict inside nnx.value_and_grad, which raises at once.

Source: https://github.com/jax-ml/jax/issues/2783
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class Regressor(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.body = nnx.Linear(3, 8, rngs=rngs)
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.gelu(self.body(x)))


history = []


def mse_loss(model, x, y):
    pred = model(x)
    loss = jnp.mean((pred[:, 0] - y) ** 2)
    metrics = {"mse": float(loss)}  # BUG
    return loss, metrics


def train_step(model, optimizer, x, y):
    grad_fn = nnx.value_and_grad(mse_loss, has_aux=True)
    (loss, metrics), grads = grad_fn(model, x, y)
    optimizer.update(model, grads)
    history.append(metrics)
    return loss


if __name__ == "__main__":
    model = Regressor(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(0.01), wrt=nnx.Param)
    x = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
    y = x.sum(axis=1)
    try:
        train_step(model, optimizer, x, y)
    except jax.errors.ConcretizationTypeError:
        pass
    else:
        raise AssertionError("float() of the traced loss was expected to raise")
