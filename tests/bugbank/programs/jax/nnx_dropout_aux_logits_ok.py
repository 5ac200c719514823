"""Flax NNX classifier with dropout: nnx.value_and_grad(has_aux=True) returns the logits, accuracy (argmax) and the loss log are computed from them after the gradient; nnx.Optimizer updates the model in place.

Source: https://github.com/google/flax/pull/4277
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx


class MLP(nnx.Module):
    def __init__(self, din, dhidden, dout, *, rngs: nnx.Rngs):
        self.fc1 = nnx.Linear(din, dhidden, rngs=rngs)
        self.drop = nnx.Dropout(0.2, rngs=rngs)
        self.fc2 = nnx.Linear(dhidden, dout, rngs=rngs)

    def __call__(self, x):
        return self.fc2(self.drop(nnx.gelu(self.fc1(x))))


def loss_fn(model, batch):
    logits = model(batch["x"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    return loss, logits


@nnx.jit
def train_step(model, optimizer, batch):
    (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model, batch)
    optimizer.update(model, grads)
    correct = jnp.argmax(logits, axis=-1) == batch["y"]
    return loss, correct.mean(), grads


@nnx.jit
def eval_step(model, batch):
    loss, logits = loss_fn(model, batch)
    return loss, (jnp.argmax(logits, -1) == batch["y"]).mean()


if __name__ == "__main__":
    model = MLP(6, 16, 3, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adamw(1e-2), wrt=nnx.Param)
    kx, ky = jax.random.split(jax.random.PRNGKey(1))
    batch = {"x": jax.random.normal(kx, (12, 6)), "y": jax.random.randint(ky, (12,), 0, 3)}
    kernel_before = np.array(model.fc1.kernel[...])
    history = []
    loss, acc, grads = train_step(model, optimizer, batch)
    history.append({"loss": float(loss), "acc": float(acc)})
    model.eval()
    eval_loss, eval_acc = eval_step(model, batch)
    history.append({"loss": eval_loss.item(), "acc": eval_acc.item()})
    model.train()
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert not np.array_equal(np.asarray(model.fc1.kernel[...]), kernel_before)
