"""Flax NNX model trained through the functional API under plain jax.jit: the step takes and returns pure State, and the loop merges it back with nnx.update.

Source: https://github.com/google/flax/pull/5293 (jax.jit with nnx needs the state passed in and out)
        https://github.com/google/flax/issues/4695
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import nnx


class TinyNet(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(3, 6, rngs=rngs)
        self.l2 = nnx.Linear(6, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(jnp.tanh(self.l1(x)))


tx = optax.sgd(0.1)


@jax.jit
def step(graphdef, params, opt_state, x, y):
    def loss_fn(p):
        net = nnx.merge(graphdef, p)
        return jnp.mean((net(x) - y) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, opt_state, loss


if __name__ == "__main__":
    net = TinyNet(nnx.Rngs(2))
    graphdef, params = nnx.split(net, nnx.Param)
    opt_state = tx.init(params)
    x = jax.random.normal(jax.random.PRNGKey(0), (12, 3))
    y = jnp.sin(x[:, :1])
    before = jax.tree_util.tree_map(jnp.copy, params)
    for _ in range(3):
        params, opt_state, loss = step(graphdef, params, opt_state, x, y)
    nnx.update(net, params)
    after = nnx.state(net, nnx.Param)
    assert all(bool(jnp.any(a != b)) for a, b in zip(jax.tree_util.tree_leaves(after), jax.tree_util.tree_leaves(before)))
