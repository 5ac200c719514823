"""Logistic regression: numpy prepares the data and class weights outside, jnp.log inside the differentiated loss.

Source: https://github.com/PythonOT/POT/issues/625
Label: clean
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp
import numpy as np


def bce(w, x, y, pos_weight):
    p = jax.nn.sigmoid(x @ w)
    return -jnp.mean(pos_weight * y * jnp.log(p + 1e-7) + (1 - y) * jnp.log(1 - p + 1e-7))


def main():
    rng = np.random.default_rng(0)
    x_np = rng.normal(size=(16, 4))
    x_np = (x_np - np.mean(x_np, axis=0)) / np.std(x_np, axis=0)
    y_np = rng.integers(0, 2, size=16)
    pos_weight = float(np.log1p(len(y_np) / max(1, y_np.sum())))
    x = jnp.asarray(x_np, dtype=jnp.float32)
    y = jnp.asarray(y_np, dtype=jnp.float32)
    w = jnp.zeros(4)
    g = jax.grad(bce)(w, x, y, pos_weight)
    assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).sum()) > 0


if __name__ == "__main__":
    main()
