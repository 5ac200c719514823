"""Learned codebook prior in JAX: jax.random.choice draws the code with p=softmax(prior logits), so the prior never learns.

Source: https://github.com/jax-ml/jax/issues/17556
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax

N_CODES = 4


def reconstruction_loss(params, key, x):
    probs = jax.nn.softmax(params["prior_logits"])
    idx = jax.random.choice(key, N_CODES, shape=(x.shape[0],), p=probs)  # BUG
    codes = params["codebook"][idx]
    return jnp.mean(jnp.sum((codes - x) ** 2, axis=-1))


def fit(params, data, steps=2, seed=0):
    tx = optax.sgd(0.1)
    opt_state = tx.init(params)
    key = jax.random.PRNGKey(seed)
    grads = None
    for _ in range(steps):
        key, sub = jax.random.split(key)
        grads = jax.grad(reconstruction_loss)(params, sub, data)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    return params, grads


if __name__ == "__main__":
    data = jax.random.normal(jax.random.PRNGKey(7), (10, 2))
    params = {
        "prior_logits": jnp.array([0.1, -0.2, 0.3, 0.0]),
        "codebook": jax.random.normal(jax.random.PRNGKey(8), (N_CODES, 2)),
    }
    new_params, grads = fit(params, data)
    assert bool(jnp.all(grads["prior_logits"] == 0))
    assert bool(jnp.any(grads["codebook"] != 0))
    assert bool(jnp.all(new_params["prior_logits"] == params["prior_logits"]))
