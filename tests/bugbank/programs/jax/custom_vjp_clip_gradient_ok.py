"""Plain-JAX regression with a custom_vjp gradient clipper between two layers: its backward returns None for the clip bounds (plain numbers) and the clipped cotangent for the activations, so both layers train.

Source: https://github.com/jax-ml/jax/issues/17496
        https://docs.jax.dev/en/latest/notebooks/Custom_derivative_rules_for_Python_code.html (gradient clipping example)
Label: clean
Family: jax
Frameworks: jax
"""

import jax
import jax.numpy as jnp


@jax.custom_vjp
def clip_gradient(lo, hi, x):
    return x


def clip_gradient_fwd(lo, hi, x):
    return x, (lo, hi)


def clip_gradient_bwd(res, g):
    lo, hi = res
    return None, None, jnp.clip(g, lo, hi)


clip_gradient.defvjp(clip_gradient_fwd, clip_gradient_bwd)


def mlp(params, x):
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    h = clip_gradient(-0.5, 0.5, h)
    return h @ params["w2"]


@jax.jit
def sgd_step(params, x, y, lr=0.05):
    def loss(p):
        return jnp.mean((mlp(p, x) - y) ** 2)

    grads = jax.grad(loss)(params)
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), grads


if __name__ == "__main__":
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    params = {"w1": jax.random.normal(k1, (3, 5)), "b1": jnp.zeros(5), "w2": jax.random.normal(k2, (5, 1))}
    x = jax.random.normal(k3, (16, 3))
    y = jnp.cos(x[:, :1])
    for _ in range(2):
        params, grads = sgd_step(params, x, y)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
