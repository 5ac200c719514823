"""Logistic regression fitted by Newton's method: jax.grad and jax.hessian give the derivatives, the linear solve and the step size bookkeeping run in NumPy on the returned arrays.

Source: https://github.com/jax-ml/jax/pull/19160
Label: clean
Family: jax
Frameworks: jax
"""
import numpy as np
import jax
import jax.numpy as jnp


def nll(w, X, y, l2=1e-2):
    z = X @ w
    return jnp.mean(jnp.logaddexp(0.0, z) - y * z) + 0.5 * l2 * jnp.sum(w ** 2)


gradient = jax.jit(jax.grad(nll))
curvature = jax.jit(jax.hessian(nll))


def newton(w, X, y, iters=4):
    trace = []
    for _ in range(iters):
        g = np.asarray(gradient(w, X, y))
        H = np.asarray(curvature(w, X, y))
        direction = np.linalg.solve(H, g)
        w = w - jnp.asarray(direction)
        trace.append(float(np.linalg.norm(g)))
    return w, trace


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X @ np.array([1.5, -1.0, 0.5]) + 0.3 * rng.normal(size=40) > 0).astype(np.float32)
    w0 = jnp.zeros(3)
    g0 = gradient(w0, X, y)
    assert bool(jnp.any(g0 != 0))
    w, trace = newton(w0, X, y)
    assert trace[-1] < trace[0]
    assert float(nll(w, X, y)) < float(nll(w0, X, y))
