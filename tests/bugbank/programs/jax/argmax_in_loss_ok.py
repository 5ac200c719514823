"""Flax linen classifier: cross-entropy drives training, argmax only feeds an accuracy metric returned as aux.

Source: https://github.com/google-deepmind/dm-haiku/issues/442
Label: clean
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
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
    return loss, {"accuracy": accuracy}


@jax.jit
def grads_and_metrics(params, x, labels):
    (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, x, labels)
    return loss, metrics, grads


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (12, 5))
    labels = jnp.arange(12) % 3
    params = model.init(key, x)["params"]
    tx = optax.adam(1e-2)
    opt_state = tx.init(params)
    loss, metrics, grads = grads_and_metrics(params, x, labels)
    assert all(float(jnp.abs(g).sum()) > 0 for g in jax.tree_util.tree_leaves(grads))
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    assert 0.0 <= float(metrics["accuracy"]) <= 1.0
