"""Optimizer built by a factory as chain(masked(add_decayed_weights, kernels_only), adam): the mask only picks which leaves get weight decay, every leaf still trains.

Source: https://github.com/google/flax/issues/1857
        https://optax.readthedocs.io/en/latest/api/apply_updates.html
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def init_params(key):
    k1, k2 = jax.random.split(key)
    return {
        "hidden": {"kernel": jax.random.normal(k1, (3, 4)) * 0.5, "bias": jnp.zeros(4)},
        "out": {"kernel": jax.random.normal(k2, (4,)) * 0.5, "bias": jnp.zeros(())},
    }


def forward(params, x):
    h = jnp.tanh(x @ params["hidden"]["kernel"] + params["hidden"]["bias"])
    return h @ params["out"]["kernel"] + params["out"]["bias"]


def make_optimizer(params, lr=1e-2):
    kernels_only = jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "kernel", params)
    return optax.chain(
        optax.masked(optax.add_decayed_weights(1e-4), kernels_only),
        optax.adam(lr),
    )


def loss_fn(params, x, y):
    return jnp.mean((forward(params, x) - y) ** 2)


key = jax.random.PRNGKey(0)
params = init_params(key)
x = jax.random.normal(key, (8, 3))
y = jnp.sin(x[:, 0])
tx = make_optimizer(params)
opt_state = tx.init(params)
start = loss_fn(params, x, y)
for _ in range(5):
    grads = jax.grad(loss_fn)(params, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
assert float(loss_fn(params, x, y)) < float(start)
assert bool(jnp.any(params["hidden"]["bias"] != 0))
