"""Two-layer MLP in plain JAX built on a hand-written custom_vjp dense op whose backward returns None for the layer input: the first layer sits before that input and gets an all-zero gradient.

Source: https://github.com/jax-ml/jax/issues/17496
Label: buggy
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


@jax.custom_vjp
def dense(w, x):
    return x @ w


def dense_fwd(w, x):
    return x @ w, (w, x)


def dense_bwd(res, g):
    w, x = res
    # only the weight gradient is written out: "the input is data anyway"
    return x.T @ g, None  # BUG


dense.defvjp(dense_fwd, dense_bwd)


def init(key):
    k1, k2 = jax.random.split(key)
    return {"w1": jax.random.normal(k1, (4, 8)) * 0.5, "w2": jax.random.normal(k2, (8, 1)) * 0.5}


def predict(params, x):
    h = jnp.tanh(dense(params["w1"], x))
    return dense(params["w2"], h)


def loss(params, x, y):
    return jnp.mean((predict(params, x) - y) ** 2)


if __name__ == "__main__":
    kx, kp = jax.random.split(jax.random.PRNGKey(3))
    x = jax.random.normal(kx, (10, 4))
    y = jnp.sum(x, axis=1, keepdims=True)
    params = init(kp)
    grads = jax.grad(loss)(params, x, y)
    assert bool(jnp.all(grads["w1"] == 0))
    assert bool(jnp.any(grads["w2"] != 0))
