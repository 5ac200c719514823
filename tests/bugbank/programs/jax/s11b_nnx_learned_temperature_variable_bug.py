"""Flax NNX contrastive encoder with a learnable temperature stored as a plain nnx.Variable: nnx.value_and_grad and nnx.Optimizer only see nnx.Param, so the temperature never changes while the encoder trains.

Source: https://github.com/google/flax/pull/4277
        https://github.com/google/flax/pull/3983
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class ContrastiveEncoder(nnx.Module):
    def __init__(self, din, dim, *, rngs):
        self.proj = nnx.Linear(din, dim, rngs=rngs)
        self.log_temp = nnx.Variable(jnp.log(jnp.array(0.1)))  # BUG

    def __call__(self, a, b):
        za = self.proj(a)
        zb = self.proj(b)
        za = za / jnp.linalg.norm(za, axis=-1, keepdims=True)
        zb = zb / jnp.linalg.norm(zb, axis=-1, keepdims=True)
        return za @ zb.T / jnp.exp(self.log_temp[...])


def info_nce(model, a, b):
    logits = model(a, b)
    labels = jnp.arange(a.shape[0])
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@nnx.jit
def train_step(model, optimizer, a, b):
    loss, grads = nnx.value_and_grad(info_nce)(model, a, b)
    optimizer.update(model, grads)
    return loss


model = ContrastiveEncoder(6, 4, rngs=nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adam(5e-2), wrt=nnx.Param)
a = jax.random.normal(jax.random.PRNGKey(1), (8, 6))
b = a + 0.05 * jax.random.normal(jax.random.PRNGKey(2), (8, 6))
t0 = model.log_temp[...].copy()
w0 = model.proj.kernel[...].copy()
for _ in range(3):
    train_step(model, optimizer, a, b)

assert bool(jnp.any(model.proj.kernel[...] != w0))
assert bool(model.log_temp[...] == t0)
