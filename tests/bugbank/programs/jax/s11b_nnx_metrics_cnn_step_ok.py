"""Flax NNX classifier trained with a jitted step that returns the logits as aux, feeds them to an nnx.MultiMetric (accuracy via argmax) and updates with nnx.Optimizer; the weights train.

Source: https://github.com/google/flax/pull/4277
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class SmallNet(nnx.Module):
    def __init__(self, din, dout, *, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(din, 16, rngs=rngs)
        self.norm = nnx.LayerNorm(16, rngs=rngs)
        self.out = nnx.Linear(16, dout, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.norm(self.hidden(x))))


def loss_fn(model, batch):
    logits = model(batch["image"])
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    return loss, logits


@nnx.jit
def train_step(model, optimizer, metrics, batch):
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(model, batch)
    metrics.update(loss=loss, logits=logits, labels=batch["label"])
    optimizer.update(model, grads)
    return grads


@nnx.jit
def eval_step(model, metrics, batch):
    loss, logits = loss_fn(model, batch)
    metrics.update(loss=loss, logits=logits, labels=batch["label"])


model = SmallNet(8, 3, rngs=nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adamw(1e-2), wrt=nnx.Param)
metrics = nnx.MultiMetric(accuracy=nnx.metrics.Accuracy(), loss=nnx.metrics.Average("loss"))

key = jax.random.PRNGKey(1)
batch = {"image": jax.random.normal(key, (12, 8)), "label": jnp.arange(12) % 3}
before = model.hidden.kernel[...].copy()
history = []
for step in range(3):
    grads = train_step(model, optimizer, metrics, batch)
    history.append({k: float(v) for k, v in metrics.compute().items()})
    metrics.reset()
eval_step(model, metrics, batch)

assert bool(jnp.any(grads["hidden"]["kernel"][...] != 0))
assert bool(jnp.any(model.hidden.kernel[...] != before))
assert len(history) == 3
