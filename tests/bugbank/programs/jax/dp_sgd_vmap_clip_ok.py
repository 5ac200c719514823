"""DP-SGD in JAX: per-example gradients by vmap(grad), clipped, averaged and noised with jax.random.normal AFTER differentiation, then an optax chain applies them.

Source: https://github.com/google/flax/issues/1852
        https://github.com/google-deepmind/optax/issues/50
Label: clean
Family: jax
Frameworks: jax, optax
"""
from functools import partial

import jax
import jax.numpy as jnp
import optax


def predict(params, x):
    return jnp.tanh(x @ params["w1"]) @ params["w2"]


def example_loss(params, x, y):
    return (predict(params, x[None])[0, 0] - y) ** 2


per_example_grads = jax.vmap(jax.grad(example_loss), in_axes=(None, 0, 0))


def clip_and_noise(grads, key, clip=1.0, sigma=0.1):
    leaves = jax.tree_util.tree_leaves(grads)
    norms = jnp.sqrt(sum(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in leaves))
    scale = jnp.minimum(1.0, clip / (norms + 1e-6))
    clipped = jax.tree_util.tree_map(lambda g: g * scale.reshape((-1,) + (1,) * (g.ndim - 1)), grads)
    mean = jax.tree_util.tree_map(lambda g: g.mean(axis=0), clipped)
    keys = jax.random.split(key, len(leaves))
    noisy = [m + sigma * clip / scale.shape[0] * jax.random.normal(k, m.shape)
             for m, k in zip(jax.tree_util.tree_leaves(mean), keys)]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(mean), noisy)


tx = optax.chain(optax.scale_by_adam(), optax.scale(-0.05))


@partial(jax.jit, static_argnames=("clip",))
def private_step(params, opt_state, x, y, key, clip=1.0):
    grads = clip_and_noise(per_example_grads(params, x, y), key, clip=clip)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, grads


if __name__ == "__main__":
    k1, k2, k3, k4 = jax.random.split(jax.random.PRNGKey(0), 4)
    params = {"w1": jax.random.normal(k1, (3, 8)) * 0.5, "w2": jax.random.normal(k2, (8, 1)) * 0.5}
    x = jax.random.normal(k3, (10, 3))
    y = jnp.sin(x[:, 0])
    raw = per_example_grads(params, x, y)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(raw))
    opt_state = tx.init(params)
    new_params, opt_state, grads = private_step(params, opt_state, x, y, k4)
    assert bool(jnp.any(new_params["w1"] != params["w1"]))
