"""Distance-based energy in JAX using jnp.where with the double-where guard: the comparison selects, it does not cut.

Source: https://github.com/jax-ml/jax/issues/5798
        https://github.com/jax-ml/jax/issues/1052
Label: clean
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def safe_norm(v, eps=1e-12):
    sq = jnp.sum(v ** 2, axis=-1)
    nonzero = sq > eps
    safe_sq = jnp.where(nonzero, sq, 1.0)
    return jnp.where(nonzero, jnp.sqrt(safe_sq), 0.0)


def energy(positions, sigma):
    diff = positions[:, None, :] - positions[None, :, :]
    r = safe_norm(diff)
    close = r < 2.0
    pair = jnp.where(close, (sigma - r) ** 2, 0.0)
    return 0.5 * jnp.sum(pair)


if __name__ == "__main__":
    pos = jnp.array([[0.0, 0.0], [0.5, 0.1], [3.0, 3.0]])
    g_pos, g_sigma = jax.grad(energy, argnums=(0, 1))(pos, jnp.array(1.0))
    assert bool(jnp.all(jnp.isfinite(g_pos)))
    assert float(jnp.abs(g_pos[:2]).sum()) > 0 and float(jnp.abs(g_sigma)) > 0
