"""Embedding lookup with a custom_vjp whose backward returns None for the integer token ids (they have no cotangent) and scatters into the table: the table trains.

Source: https://github.com/jax-ml/jax/pull/4595
        https://github.com/jax-ml/jax/issues/17496
Label: clean
Family: jax
Frameworks: jax
"""
from jax import custom_vjp, grad, random
import jax.numpy as jnp


@custom_vjp
def lookup(table, ids):
    return table[ids]


def lookup_fwd(table, ids):
    return table[ids], (table.shape, ids)


def lookup_bwd(res, g):
    shape, ids = res
    d_table = jnp.zeros(shape, g.dtype).at[ids].add(g)
    return d_table, None


lookup.defvjp(lookup_fwd, lookup_bwd)


def loss(table, ids, target):
    pooled = lookup(table, ids).mean(axis=0)
    return jnp.sum((pooled - target) ** 2)


table = random.normal(random.PRNGKey(0), (6, 3))
ids = jnp.array([0, 2, 2, 5], dtype=jnp.int32)
g = grad(loss)(table, ids, jnp.ones(3))
assert bool(jnp.any(g[ids] != 0))
assert bool(jnp.all(g[jnp.array([1, 3, 4])] == 0))
table = table - 0.1 * g
assert float(loss(table, ids, jnp.ones(3))) < float(loss(table + 0.1 * g, ids, jnp.ones(3)))
