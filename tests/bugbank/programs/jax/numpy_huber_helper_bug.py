"""Robust regression in JAX: the Huber-loss helper uses NumPy's where/abs on the residual, so value_and_grad raises on the tracer.

Source: https://apxml.com/courses/getting-started-with-jax/chapter-3-automatic-differentiation-grad/grad-limitations
        https://jax.readthedocs.io/en/latest/faq.html
Label: buggy
Family: jax
Frameworks: jax
"""
import numpy as np
import jax
import jax.numpy as jnp


def huber(residual, delta=1.0):
    small = np.abs(residual) <= delta  # BUG
    return np.where(small, 0.5 * residual ** 2, delta * (np.abs(residual) - 0.5 * delta))  # BUG


class LinearModel:
    def __init__(self, dim, seed=0):
        self.params = {"w": jax.random.normal(jax.random.PRNGKey(seed), (dim,)), "b": jnp.zeros(())}

    @staticmethod
    def objective(params, x, y):
        residual = x @ params["w"] + params["b"] - y
        return huber(residual).mean()

    def step(self, x, y, lr=0.05):
        loss, grads = jax.value_and_grad(self.objective)(self.params, x, y)
        self.params = jax.tree_util.tree_map(lambda p, g: p - lr * g, self.params, grads)
        return loss


if __name__ == "__main__":
    x = jax.random.normal(jax.random.PRNGKey(3), (6, 2))
    y = x[:, 0] - x[:, 1]
    model = LinearModel(2)
    try:
        model.step(x, y)
    except jax.errors.TracerArrayConversionError:
        pass
    else:
        raise AssertionError("NumPy on the traced residual should have raised")
