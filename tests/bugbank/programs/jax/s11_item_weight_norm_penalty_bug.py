"""Weight-norm penalty helper reads each leaf's norm with .item() inside the differentiated loss: the penalty is a constant and its gradient is silently lost.

Source: https://github.com/jax-ml/jax/issues/9085
        https://github.com/LouisDesdoigts/zodiax/issues/35
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def norm_penalty(tree, max_norm=1.0):
    total = 0.0
    for leaf in jax.tree_util.tree_leaves(tree):
        n = jnp.linalg.norm(leaf).item()  # BUG
        total = total + max(n - max_norm, 0.0) ** 2
    return total


def objective(params, x, labels):
    logits = x @ params["kernel"] + params["bias"]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return ce + 0.1 * norm_penalty(params)


def cross_entropy_only(params, x, labels):
    logits = x @ params["kernel"] + params["bias"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def main():
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (10, 4))
    labels = jnp.arange(10) % 3
    params = {"kernel": 2.0 * jax.random.normal(key, (4, 3)), "bias": jnp.zeros(3)}
    opt = optax.sgd(0.1)
    state = opt.init(params)
    grads = jax.grad(objective)(params, x, labels)
    updates, state = opt.update(grads, state)
    params_next = optax.apply_updates(params, updates)
    # the penalty is active (kernel norm > 1) yet contributes nothing to the gradient
    assert float(jnp.linalg.norm(params["kernel"])) > 1.0
    ce_grads = jax.grad(cross_entropy_only)(params, x, labels)
    assert bool(jnp.array_equal(grads["kernel"], ce_grads["kernel"]))
    assert bool(jnp.any(params_next["kernel"] != params["kernel"]))

if __name__ == "__main__":
    main()
