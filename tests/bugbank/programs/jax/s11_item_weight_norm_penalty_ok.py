"""Weight-norm penalty kept in jnp inside the loss; .item() and argmax are used only by the logging helper after the step.

Source: https://github.com/jax-ml/jax/issues/9085
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def norm_penalty(tree, max_norm=1.0):
    total = 0.0
    for leaf in jax.tree_util.tree_leaves(tree):
        n = jnp.linalg.norm(leaf)
        total = total + jnp.maximum(n - max_norm, 0.0) ** 2
    return total


def objective(params, x, labels):
    logits = x @ params["kernel"] + params["bias"]
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return ce + 0.1 * norm_penalty(params)


def log_step(step, loss, params, x, labels, log):
    logits = x @ params["kernel"] + params["bias"]
    acc = (jnp.argmax(logits, axis=-1) == labels).mean()
    log.append((step, loss.item(), acc.item(), jnp.linalg.norm(params["kernel"]).item()))


def main():
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (10, 4))
    labels = jnp.arange(10) % 3
    params = {"kernel": jax.random.normal(key, (4, 3)), "bias": jnp.zeros(3)}
    opt = optax.sgd(0.1)
    state = opt.init(params)
    log = []
    start = params["kernel"]
    for step in range(3):
        loss, grads = jax.value_and_grad(objective)(params, x, labels)
        updates, state = opt.update(grads, state)
        params = optax.apply_updates(params, updates)
        log_step(step, loss, params, x, labels, log)
    assert bool(jnp.any(grads["kernel"] != 0))
    assert bool(jnp.any(params["kernel"] != start))
    assert len(log) == 3


if __name__ == "__main__":
    main()
