"""Minibatch regression in JAX with the data first, loss(batch, params): jax.grad(argnums=1) targets the params.

Source: https://apxml.com/courses/getting-started-with-jax/chapter-3-automatic-differentiation-grad/grad-respect-to-arguments
        https://crackedaicode.com/problems/jax-grad-scalar-function
Label: clean
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def loss(batch, params):
    x, y = batch
    pred = x @ params["w"] + params["b"]
    return jnp.mean((pred - y) ** 2)


step_grad = jax.jit(jax.grad(loss, argnums=1))


def fit(params, batch, steps=3, lr=0.1):
    for _ in range(steps):
        grads = step_grad(batch, params)
        params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
    return params


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (8, 3))
    y = x @ jnp.array([2.0, -1.0, 0.5]) + 1.0
    params = {"w": jnp.zeros(3), "b": jnp.array(0.0)}
    g = step_grad((x, y), params)
    assert float(jnp.abs(g["w"]).sum()) > 0 and float(jnp.abs(g["b"])) > 0
    new = fit(params, (x, y))
    assert float(loss((x, y), new)) < float(loss((x, y), params))
