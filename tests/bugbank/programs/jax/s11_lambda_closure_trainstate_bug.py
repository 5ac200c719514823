"""TrainState step that differentiates a lambda closing over state.params instead of its argument: every gradient is zero.

Source: https://github.com/jax-ml/jax/issues/1983
        https://theneuralbase.com/jax/learn/beginner/gradient-of-loss-with-respect-to-params/
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax
from flax.training.train_state import TrainState


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(1)(nn.relu(nn.Dense(8)(x))).squeeze(-1)


def mse(state, params, x, y):
    return jnp.mean((state.apply_fn({"params": params}, x) - y) ** 2)


@jax.jit
def train_step(state, x, y):
    loss, grads = jax.value_and_grad(lambda p: mse(state, state.params, x, y))(state.params)  # BUG
    return state.apply_gradients(grads=grads), loss, grads


model = MLP()
x = jax.random.normal(jax.random.PRNGKey(0), (16, 2))
y = x[:, 0] * x[:, 1]
state = TrainState.create(apply_fn=model.apply, params=model.init(jax.random.PRNGKey(1), x)["params"], tx=optax.sgd(0.1))
start = state.params
for _ in range(2):
    state, loss, grads = train_step(state, x, y)
assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), start, state.params)
assert all(jax.tree_util.tree_leaves(same))
