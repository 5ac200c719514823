"""Fine-tuning optimizer built by a factory as chain(clip, masked(adam, head_mask)): the backbone leaves outside the mask get the raw gradient as update and move uphill.

Source: https://github.com/google/flax/issues/1857
        https://optax.readthedocs.io/en/latest/api/apply_updates.html
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def init_params(key):
    k1, k2 = jax.random.split(key)
    return {
        "backbone": {"w": jax.random.normal(k1, (3, 4)) * 0.5},
        "head": {"w": jax.random.normal(k2, (4,)) * 0.5},
    }


def forward(params, x):
    return jnp.tanh(x @ params["backbone"]["w"]) @ params["head"]["w"]


def make_optimizer(params, lr=1e-2):
    head_only = {"backbone": jax.tree_util.tree_map(lambda _: False, params["backbone"]),
                 "head": jax.tree_util.tree_map(lambda _: True, params["head"])}
    return optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.masked(optax.adam(lr), head_only),  # BUG
    )


def loss_fn(params, x, y):
    return jnp.mean((forward(params, x) - y) ** 2)


key = jax.random.PRNGKey(0)
params = init_params(key)
x = jax.random.normal(key, (8, 3))
y = jnp.sin(x[:, 0])
tx = make_optimizer(params)
opt_state = tx.init(params)
grads = jax.grad(loss_fn)(params, x, y)
updates, opt_state = tx.update(grads, opt_state, params)
new_params = optax.apply_updates(params, updates)
moved = new_params["backbone"]["w"] - params["backbone"]["w"]
# the "frozen" backbone moved along +gradient (uphill), not stayed put
assert bool(jnp.any(moved != 0))
assert float(jnp.sum(moved * grads["backbone"]["w"])) > 0
