"""flax.nnx block whose learnable gate is built by a helper as nnx.Variable instead of nnx.Param: nnx.Optimizer never updates it.

Source: https://github.com/google/flax/pull/3983
        https://github.com/jax-ml/jax/issues/1983
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


def make_gate(size, init=0.0):
    return nnx.Variable(jnp.full((size,), init))  # BUG


class GatedResidual(nnx.Module):
    def __init__(self, dim, *, rngs):
        self.proj = nnx.Linear(dim, dim, rngs=rngs)
        self.gate = make_gate(dim)

    def __call__(self, x):
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
kernel_before = model.proj.kernel[...]
for _ in range(3):
    train_step(model, optimizer, x, y)
assert bool(jnp.all(model.gate[...] == gate_before))
assert bool(jnp.any(model.proj.kernel[...] != kernel_before))
