"""Flax linen classifier whose loss compares the argmax class with the label: every gradient is zero.

Source: https://github.com/google-deepmind/dm-haiku/issues/442
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


class MLP(nn.Module):
    hidden: int = 16
    classes: int = 3

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.classes)(x)


model = MLP()


def loss_fn(params, x, labels):
    logits = model.apply({"params": params}, x)
    predicted = jnp.argmax(logits, axis=-1)  # BUG
    return jnp.mean((predicted.astype(jnp.float32) - labels) ** 2)


def train_step(params, opt_state, tx, x, labels):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, labels)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, grads


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (12, 5))
    labels = jnp.arange(12) % 3
    params = model.init(key, x)["params"]
    tx = optax.sgd(0.1)
    opt_state = tx.init(params)
    new_params, opt_state, grads = train_step(params, opt_state, tx, x, labels)
    assert all(float(jnp.abs(g).sum()) == 0.0 for g in jax.tree_util.tree_leaves(grads))
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.array_equal(a, b)), params, new_params)
    assert all(jax.tree_util.tree_leaves(same))
