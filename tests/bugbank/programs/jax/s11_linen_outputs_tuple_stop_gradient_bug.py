"""Linen classifier returning (logits, features); stop_gradient meant for the features is applied to the whole output tuple, so the loss has no gradient at all.

Source: https://github.com/jax-ml/jax/pull/892
        https://github.com/google/flax/issues/1857
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


class Classifier(nn.Module):
    n_classes: int = 3

    @nn.compact
    def __call__(self, x):
        feats = nn.relu(nn.Dense(6)(x))
        return nn.Dense(self.n_classes)(feats), feats


def compute_loss(params, apply_fn, batch):
    outputs = apply_fn({"params": params}, batch["x"])
    logits, feats = jax.lax.stop_gradient(outputs)  # BUG
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    sparsity = 1e-3 * jnp.abs(feats).mean()
    return ce + sparsity


def fit(model, params, batch, steps=3):
    tx = optax.sgd(0.5)
    opt_state = tx.init(params)
    grad_fn = jax.jit(jax.value_and_grad(compute_loss), static_argnums=1)
    for _ in range(steps):
        loss, grads = grad_fn(params, model.apply, batch)
        updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
    return params, grads


if __name__ == "__main__":
    model = Classifier()
    key = jax.random.PRNGKey(0)
    batch = {"x": jax.random.normal(key, (12, 4)), "y": jnp.arange(12) % 3}
    params = model.init(key, batch["x"])["params"]
    trained, grads = fit(model, params, batch)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), params, trained)
    assert all(jax.tree_util.tree_leaves(same))
