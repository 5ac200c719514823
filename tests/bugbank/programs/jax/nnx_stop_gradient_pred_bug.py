"""Flax NNX classifier trained with nnx.Optimizer: a helper wraps the model's logits in stop_gradient, so no weight gets a gradient.

Source: https://github.com/openai/baselines/issues/105
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class Classifier(nnx.Module):
    def __init__(self, din, dout, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(din, 16, rngs=rngs)
        self.head = nnx.Linear(16, dout, rngs=rngs)

    def __call__(self, x):
        return self.head(nnx.relu(self.hidden(x)))


def smoothed_logits(model, x, temperature=2.0):
    return jax.lax.stop_gradient(model(x)) / temperature  # BUG


def loss_fn(model, x, labels):
    logits = smoothed_logits(model, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@nnx.jit
def train_step(model, optimizer, x, labels):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, labels)
    optimizer.update(model, grads)
    return loss, grads


if __name__ == "__main__":
    model = Classifier(4, 3, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 4))
    labels = jnp.arange(8) % 3
    kernel_before = model.head.kernel[...].copy()
    loss, grads = train_step(model, optimizer, x, labels)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.all(model.head.kernel[...] == kernel_before))
