"""Count model in JAX: predicted firing rates are fed to jax.random.poisson and the loss compares the sampled counts, so the rate network gets no gradient.

Source: https://github.com/jax-ml/jax/issues/2173
        https://github.com/jax-ml/jax/issues/17555
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def rates(params, x):
    return jax.nn.softplus(x @ params["w"] + params["b"])


@jax.jit
def simulated_loss(params, x, observed, key):
    lam = rates(params, x)
    counts = jax.random.poisson(key, lam).astype(jnp.float32)  # BUG
    return jnp.mean((counts - observed) ** 2)


def train(params, x, observed, steps=3):
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(1e-2))
    state = tx.init(params)
    key = jax.random.PRNGKey(7)
    for _ in range(steps):
        key, sub = jax.random.split(key)
        loss, grads = jax.value_and_grad(simulated_loss)(params, x, observed, sub)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return params, grads


if __name__ == "__main__":
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (20, 3))
    observed = jnp.round(jnp.exp(0.5 * x[:, 0]) * 3.0)
    params = {"w": 0.1 * jax.random.normal(kw, (3,)), "b": jnp.ones(())}
    new_params, grads = train(params, x, observed)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.all(new_params["w"] == params["w"]))
