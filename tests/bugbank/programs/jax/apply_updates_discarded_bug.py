"""Haiku-style pure MLP trained with an optax chain: the step calls optax.apply_updates but drops its result, so the weights never move.

Source: https://github.com/google/flax/issues/2467
        https://github.com/google-deepmind/optax/issues/340
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def init_mlp(key, sizes):
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        key, sub = jax.random.split(key)
        params.append({"w": jax.random.normal(sub, (n_in, n_out)) / jnp.sqrt(n_in), "b": jnp.zeros(n_out)})
    return params


def forward(params, x):
    for layer in params[:-1]:
        x = jax.nn.gelu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, labels):
    logits = forward(params, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(3e-3))


@jax.jit
def update(params, opt_state, x, labels):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, labels)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    optax.apply_updates(params, updates)  # BUG
    return params, opt_state, loss


if __name__ == "__main__":
    key = jax.random.PRNGKey(1)
    params = init_mlp(key, [4, 8, 3])
    opt_state = optimizer.init(params)
    x = jax.random.normal(key, (12, 4))
    labels = jnp.arange(12) % 3
    start = params
    losses = []
    for _ in range(3):
        params, opt_state, loss = update(params, opt_state, x, labels)
        losses.append(float(loss))
    grads = jax.grad(loss_fn)(params, x, labels)
    assert any(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    same = jax.tree_util.tree_map(lambda a, b: bool(jnp.all(a == b)), start, params)
    assert all(jax.tree_util.tree_leaves(same))
    assert losses[0] == losses[-1]
