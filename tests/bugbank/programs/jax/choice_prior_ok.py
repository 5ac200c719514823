"""Learned codebook prior in JAX: the code is drawn with jax.random.choice, and the prior is trained by the drawn codes' log-probability (score function).

Source: https://github.com/jax-ml/jax/issues/17556
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax

N_CODES = 4


def reconstruction_loss(params, key, x):
    probs = jax.nn.softmax(params["prior_logits"])
    idx = jax.random.choice(key, N_CODES, shape=(x.shape[0],), p=jax.lax.stop_gradient(probs))
    codes = params["codebook"][idx]
    per_example = jnp.sum((codes - x) ** 2, axis=-1)
    log_p = jax.nn.log_softmax(params["prior_logits"])[idx]
    advantage = jax.lax.stop_gradient(per_example - per_example.mean())
    return jnp.mean(per_example) + jnp.mean(advantage * log_p)


if __name__ == "__main__":
    data = jax.random.normal(jax.random.PRNGKey(7), (10, 2))
    params = {
        "prior_logits": jnp.array([0.1, -0.2, 0.3, 0.0]),
        "codebook": jax.random.normal(jax.random.PRNGKey(8), (N_CODES, 2)),
    }
    tx = optax.sgd(0.1)
    opt_state = tx.init(params)
    grads = jax.grad(reconstruction_loss)(params, jax.random.PRNGKey(1), data)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    assert bool(jnp.any(grads["prior_logits"] != 0))
    assert bool(jnp.any(grads["codebook"] != 0))
