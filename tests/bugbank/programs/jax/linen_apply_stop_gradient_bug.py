"""Flax linen TrainState step under jax.jit: the closure loss wraps model.apply's logits in stop_gradient, every gradient is zero.

Source: https://github.com/google/flax/issues/1857
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax.training import train_state


class MLP(nn.Module):
    hidden: int = 16
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.classes)(x)


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits = jax.lax.stop_gradient(state.apply_fn({"params": params}, images))  # BUG
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, logits

    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), loss, grads


if __name__ == "__main__":
    model = MLP()
    key = jax.random.PRNGKey(0)
    images = jax.random.normal(key, (8, 5))
    labels = jnp.arange(8) % 3
    params = model.init(key, images)["params"]
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(0.1))
    new_state, loss, grads = train_step(state, images, labels)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    moved = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), state.params, new_state.params)
    assert not any(jax.tree_util.tree_leaves(moved))
