"""Logistic regression whose cross-entropy uses numpy's np.log on the predicted probabilities: raises under jax.grad.

Source: https://github.com/PythonOT/POT/issues/625
        https://github.com/jax-ml/jax/issues/7545
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp
import numpy as np


def predict(w, x):
    return jax.nn.sigmoid(x @ w)


def bce(w, x, y):
    p = predict(w, x)
    return -jnp.mean(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7))  # BUG


def main():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(16, 4)), dtype=jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, size=16), dtype=jnp.float32)
    w = jnp.zeros(4)
    grad_fn = jax.grad(bce)
    try:
        grad_fn(w, x, y)
    except jax.errors.TracerArrayConversionError:
        return
    raise AssertionError("np.log on a tracer was expected to raise TracerArrayConversionError")


if __name__ == "__main__":
    main()
