"""Fine-tuning helper: the optimizer is built as optax.chain(adamw, masked(set_to_zero, frozen_mask)) so the pretrained encoder's updates are zeroed while the new head trains.

Source: https://github.com/google-deepmind/optax/pull/1274
        https://optax.readthedocs.io/en/latest/api/generated/optax.freeze.html
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
        "encoder": {"w": jax.random.normal(k1, (5, 8)) * 0.3, "b": jnp.zeros(8)},
        "head": {"w": jax.random.normal(k2, (8, 1)) * 0.3, "b": jnp.zeros(1)},
    }


def forward(params, x):
    h = jnp.tanh(x @ params["encoder"]["w"] + params["encoder"]["b"])
    return h @ params["head"]["w"] + params["head"]["b"]


def make_optimizer(params, lr=1e-2):
    frozen = {name: jax.tree_util.tree_map(lambda _: name == "encoder", sub)
              for name, sub in params.items()}
    return optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(lr),
        optax.masked(optax.set_to_zero(), frozen),
    )


def mse(params, x, y):
    return jnp.mean((forward(params, x) - y) ** 2)


params = init_params(jax.random.PRNGKey(0))
tx = make_optimizer(params)
opt_state = tx.init(params)
x = jax.random.normal(jax.random.PRNGKey(1), (12, 5))
y = x[:, :1] * 2.0
start = params
for _ in range(3):
    loss, grads = jax.value_and_grad(mse)(params, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)

assert bool(jnp.any(grads["head"]["w"] != 0))
assert bool(jnp.any(params["head"]["w"] != start["head"]["w"]))
assert bool(jnp.all(params["encoder"]["w"] == start["encoder"]["w"]))
