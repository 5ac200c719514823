"""flax.nnx classifier whose nll method clips probabilities with NumPy: nnx.grad raises TracerArrayConversionError on the first step.

Source: https://github.com/PythonOT/POT/issues/625
        https://github.com/google/brax/issues/128
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import numpy as np
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class SoftmaxClassifier(nnx.Module):
    def __init__(self, d_in, n_classes, *, rngs):
        self.linear = nnx.Linear(d_in, n_classes, rngs=rngs)

    def __call__(self, x):
        return jax.nn.softmax(self.linear(x), axis=-1)

    def nll(self, x, labels):
        probs = np.clip(self(x), 1e-6, 1.0)  # BUG
        picked = jnp.take_along_axis(probs, labels[:, None], axis=-1)
        return -jnp.log(picked).mean()


def train_step(model, optimizer, x, labels):
    loss, grads = nnx.value_and_grad(lambda m: m.nll(x, labels))(model)
    optimizer.update(model, grads)
    return loss


model = SoftmaxClassifier(4, 3, rngs=nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.sgd(0.1), wrt=nnx.Param)
x = jax.random.normal(jax.random.PRNGKey(0), (6, 4))
labels = jnp.array([0, 1, 2, 0, 1, 2])
try:
    train_step(model, optimizer, x, labels)
except jax.errors.TracerArrayConversionError:
    pass
else:
    raise AssertionError("np.clip on a traced array should raise under nnx.value_and_grad")
