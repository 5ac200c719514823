"""Linear regression in JAX whose loss helper clips the residual with Python float(): raises under jax.grad.

Source: https://github.com/jax-ml/jax/issues/2783
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def huber_like(residual, delta=1.0):
    r = float(jnp.abs(residual).mean())  # BUG
    if r < delta:
        return 0.5 * jnp.mean(residual ** 2)
    return delta * (jnp.mean(jnp.abs(residual)) - 0.5 * delta)


def loss_fn(params, x, y):
    pred = x @ params["w"] + params["b"]
    return huber_like(pred - y)


def main():
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (8, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3
    params = {"w": jnp.zeros(3), "b": jnp.array(0.0)}
    try:
        jax.grad(loss_fn)(params, x, y)
    except jax.errors.ConcretizationTypeError:
        return
    raise AssertionError("float() of a tracer was expected to raise ConcretizationTypeError")


if __name__ == "__main__":
    main()
