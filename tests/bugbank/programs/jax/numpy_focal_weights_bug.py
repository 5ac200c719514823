"""Focal loss in plain JAX whose modulating factor is computed with NumPy (np.exp on np.asarray of the log-probabilities) inside the loss, so jax.grad fails at once with TracerArrayConversionError.

Source: https://github.com/dfm/tinygp/issues/85
        https://github.com/jax-ml/jax/pull/3160
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import numpy as np
import jax
import jax.numpy as jnp


def logits_fn(params, x):
    return x @ params["w"] + params["b"]


def focal_factor(log_p_true, gamma):
    p_true = np.exp(np.asarray(log_p_true))  # BUG
    return jnp.asarray((1.0 - p_true) ** gamma)


def focal_loss(params, x, labels, gamma=2.0):
    log_probs = jax.nn.log_softmax(logits_fn(params, x))
    log_p_true = jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]
    return -jnp.mean(focal_factor(log_p_true, gamma) * log_p_true)


if __name__ == "__main__":
    kx, kw = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (30, 4))
    labels = jnp.arange(30) % 3
    params = {"w": 0.1 * jax.random.normal(kw, (4, 3)), "b": jnp.zeros(3)}
    float(focal_loss(params, x, labels))  # evaluates fine outside the gradient
    try:
        jax.grad(focal_loss)(params, x, labels)
    except jax.errors.TracerArrayConversionError:
        pass
    else:
        raise AssertionError("np.asarray on a traced value should have raised")
