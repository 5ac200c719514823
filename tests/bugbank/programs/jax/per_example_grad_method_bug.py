"""DP-SGD-style per-example gradients in a JAX class: jax.vmap(jax.grad(self.example_loss)) differentiates the first argument, the example, not the weights.

Source: https://github.com/jax-ml/jax/issues/578
        https://jax.readthedocs.io/en/latest/jax.html#jax.grad
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


class ClippedSGD:
    def __init__(self, dim, lr=0.1, clip=1.0):
        self.w = jnp.zeros((dim,))
        self.lr = lr
        self.clip = clip
        self._per_example = jax.vmap(jax.grad(self.example_loss), in_axes=(0, 0, None))  # BUG

    def example_loss(self, x, y, w):
        return (jnp.dot(x, w) - y) ** 2

    def _clip(self, g):
        norm = jnp.linalg.norm(g)
        return g * jnp.minimum(1.0, self.clip / (norm + 1e-12))

    def step(self, xb, yb):
        per_ex = self._per_example(xb, yb, self.w)
        clipped = jax.vmap(self._clip)(per_ex)
        self.w = self.w - self.lr * clipped.mean(axis=0)
        return per_ex


if __name__ == "__main__":
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 3))
    y = x @ jnp.array([2.0, -1.0, 0.5])
    opt = ClippedSGD(3)
    opt.w = jnp.array([0.5, 0.5, 0.5])
    w0 = opt.w
    per_ex = opt.step(x, y)
    # what was computed is d loss / d x for each example, not d loss / d w
    wrt_x = jax.vmap(jax.grad(lambda xi, yi: (jnp.dot(xi, w0) - yi) ** 2))(x, y)
    wrt_w = jax.vmap(jax.grad(lambda w, xi, yi: (jnp.dot(xi, w) - yi) ** 2), in_axes=(None, 0, 0))(w0, x, y)
    assert bool(jnp.allclose(per_ex, wrt_x))
    assert not bool(jnp.allclose(per_ex, wrt_w))
