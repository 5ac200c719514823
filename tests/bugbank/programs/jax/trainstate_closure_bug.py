"""Flax linen TrainState step whose loss_fn reads state.params instead of its own argument: every gradient is zero.

Source: https://theneuralbase.com/jax/learn/intermediate/params-as-explicit-state/
        https://jax.readthedocs.io/en/latest/faq.html
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn
from flax.training import train_state


class Regressor(nn.Module):
    hidden: int = 8

    @nn.compact
    def __call__(self, x):
        x = nn.tanh(nn.Dense(self.hidden)(x))
        return nn.Dense(1)(x)[:, 0]


@jax.jit
def train_step(state, batch):
    x, y = batch

    def loss_fn(params):
        pred = state.apply_fn({"params": state.params}, x)  # BUG
        return jnp.mean((pred - y) ** 2)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss, grads


def create_state(rng, lr=1e-2):
    model = Regressor()
    params = model.init(rng, jnp.ones((1, 3)))["params"]
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(lr))


if __name__ == "__main__":
    rng = jax.random.PRNGKey(0)
    state = create_state(rng)
    x = jax.random.normal(rng, (16, 3))
    y = x.sum(axis=1)
    before = state.params
    state, loss, grads = train_step(state, (x, y))
    leaves = jax.tree_util.tree_leaves(grads)
    assert all(bool(jnp.all(g == 0)) for g in leaves)
    moved = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), before, state.params)
    assert not any(jax.tree_util.tree_leaves(moved))
