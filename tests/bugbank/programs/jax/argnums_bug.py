"""Per-example SGD in JAX with loss(x, w): jax.grad's default argnums=0 differentiates the input, not the weights.

Source: https://apxml.com/courses/getting-started-with-jax/chapter-3-automatic-differentiation-grad/grad-respect-to-arguments
        https://crackedaicode.com/problems/jax-grad-scalar-function
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def loss(x, w, y):
    return (jnp.dot(x, w) - y) ** 2


grad_loss = jax.grad(loss)  # BUG


def sgd_epoch(w, xs, ys, lr=0.05):
    used = []
    for x, y in zip(xs, ys):
        g = grad_loss(x, w, y)
        used.append((x, w, y, g))
        w = w - lr * g
    return w, used


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    xs = jax.random.normal(key, (4, 3))
    ys = xs @ jnp.array([2.0, -1.0, 0.5])
    w0 = jnp.array([0.1, 0.2, 0.3])
    w, used = sgd_epoch(w0, xs, ys)
    for x, w_i, y, g in used:
        # the step used d loss / d x; the weights' own gradient differs and was never computed
        assert bool(jnp.allclose(g, jax.grad(loss, argnums=0)(x, w_i, y)))
        assert not bool(jnp.allclose(g, jax.grad(loss, argnums=1)(x, w_i, y)))
