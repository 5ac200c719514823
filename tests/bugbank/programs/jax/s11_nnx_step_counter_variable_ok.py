"""flax.nnx block that keeps a step counter and a running mean in Variable subclasses (not parameters) and its gate in nnx.Param: the gate trains.

Source: https://github.com/google/flax/pull/3983
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class Counter(nnx.Variable):
    pass


def make_gate(size, init=0.0):
    return nnx.Param(jnp.full((size,), init))


class GatedResidual(nnx.Module):
    def __init__(self, dim, *, rngs):
        self.proj = nnx.Linear(dim, dim, rngs=rngs)
        self.gate = make_gate(dim)
        self.calls = Counter(jnp.array(0))
        self.running_mean = nnx.BatchStat(jnp.zeros(dim))

    def __call__(self, x):
        self.calls[...] = self.calls[...] + 1
        self.running_mean[...] = 0.9 * self.running_mean[...] + 0.1 * jax.lax.stop_gradient(x.mean(0))
        return x + jax.nn.sigmoid(self.gate[...]) * self.proj(x)


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        return jnp.mean((m(x) - y) ** 2)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


model = GatedResidual(3, rngs=nnx.Rngs(0))
optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
x = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
y = 2.0 * x
gate_before = model.gate[...]
for _ in range(3):
    train_step(model, optimizer, x, y)
assert bool(jnp.any(model.gate[...] != gate_before))
assert int(model.calls[...]) == 3
