"""Contrastive (InfoNCE) loss in JAX with a learned temperature read through .item(): the temperature never gets a gradient.

Source: https://github.com/jax-ml/jax/issues/9085
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def init_params(key, dim_in, dim_out):
    return {
        "proj": 0.1 * jax.random.normal(key, (dim_in, dim_out)),
        "log_temp": jnp.array(0.0),
    }


def info_nce(params, anchors, positives):
    za = anchors @ params["proj"]
    zp = positives @ params["proj"]
    za = za / jnp.linalg.norm(za, axis=1, keepdims=True)
    zp = zp / jnp.linalg.norm(zp, axis=1, keepdims=True)
    temperature = jnp.exp(params["log_temp"]).item()  # BUG
    sims = za @ zp.T / temperature
    labels = jnp.arange(sims.shape[0])
    return optax.softmax_cross_entropy_with_integer_labels(sims, labels).mean()


if __name__ == "__main__":
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    anchors = jax.random.normal(k1, (6, 5))
    positives = anchors + 0.1 * jax.random.normal(k2, (6, 5))
    params = init_params(k3, 5, 4)
    tx = optax.adam(0.05)
    opt_state = tx.init(params)
    loss, grads = jax.value_and_grad(info_nce)(params, anchors, positives)
    updates, opt_state = tx.update(grads, opt_state, params)
    params_after = optax.apply_updates(params, updates)
    assert float(grads["log_temp"]) == 0.0
    assert bool(jnp.any(grads["proj"] != 0))
    assert float(params_after["log_temp"]) == float(params["log_temp"])
