"""Hand-written matvec custom_vjp returns no cotangent for its input vector: stacked twice, the first layer's matrix gets zero gradient.

Source: https://github.com/jax-ml/jax/issues/17496
Label: buggy
Family: jax
Frameworks: jax
"""
from jax import custom_vjp, grad, random
import jax.numpy as jnp


@custom_vjp
def matvec(mat, vec):
    return mat @ vec


def matvec_fwd(mat, vec):
    return mat @ vec, (mat, vec)


def matvec_bwd(res, g):
    mat, vec = res
    # only the matrix is "trained", so only its cotangent is returned
    return jnp.outer(g, vec), None  # BUG


matvec.defvjp(matvec_fwd, matvec_bwd)


def network(weights, v):
    h = jnp.tanh(matvec(weights[0], v))
    return matvec(weights[1], h)


def loss(weights, v, target):
    return jnp.sum((network(weights, v) - target) ** 2)


k1, k2, k3 = random.split(random.PRNGKey(0), 3)
weights = [random.normal(k1, (4, 3)), random.normal(k2, (2, 4))]
v = random.normal(k3, (3,))
g_first, g_second = grad(loss)(weights, v, jnp.ones(2))
assert bool(jnp.all(g_first == 0))
assert bool(jnp.any(g_second != 0))
