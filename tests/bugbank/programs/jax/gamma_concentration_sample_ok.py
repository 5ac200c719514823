"""Learned Gamma noise in JAX: samples drawn by jax.random.gamma from a learned concentration carry a reparameterised gradient back to it.

Source: https://github.com/jax-ml/jax/issues/2173
        https://github.com/jax-ml/jax/pull/3281
Label: clean
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


class GammaNoise:
    """Multiplicative noise whose shape parameter is learned to match a target spread."""

    def __init__(self, n):
        self.params = {"log_alpha": jnp.zeros((n,))}
        self.tx = optax.adam(0.05)
        self.opt_state = self.tx.init(self.params)

    @staticmethod
    def sample(params, key, draws):
        alpha = jnp.exp(params["log_alpha"])
        g = jax.random.gamma(key, alpha, shape=(draws,) + alpha.shape)
        return g / alpha  # mean one, variance 1 / alpha

    def loss(self, params, key, target_var):
        s = self.sample(params, key, 256)
        return jnp.mean((jnp.var(s, axis=0) - target_var) ** 2)

    def update(self, key, target_var):
        grads = jax.grad(self.loss)(self.params, key, target_var)
        updates, self.opt_state = self.tx.update(grads, self.opt_state, self.params)
        self.params = optax.apply_updates(self.params, updates)
        return grads


if __name__ == "__main__":
    noise = GammaNoise(3)
    start = noise.params["log_alpha"]
    key = jax.random.PRNGKey(0)
    for _ in range(2):
        key, sub = jax.random.split(key)
        grads = noise.update(sub, jnp.array([0.1, 0.2, 0.5]))
    assert bool(jnp.all(grads["log_alpha"] != 0))
    assert bool(jnp.all(noise.params["log_alpha"] != start))
