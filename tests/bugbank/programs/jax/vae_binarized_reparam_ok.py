"""Flax linen VAE on dynamically binarized data: jax.random.bernoulli samples the INPUT (no parameter behind it) and the latent uses the reparameterization trick; keys are split inside the loss.

Source: https://github.com/google/flax/pull/143
        https://github.com/mingyuliutw/UNIT/issues/37
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn


class VAE(nn.Module):
    latents: int = 2

    def setup(self):
        self.enc = nn.Dense(16)
        self.mu = nn.Dense(self.latents)
        self.logvar = nn.Dense(self.latents)
        self.dec = nn.Dense(8)

    def __call__(self, x, z_key):
        h = nn.relu(self.enc(x))
        mean, logvar = self.mu(h), self.logvar(h)
        eps = jax.random.normal(z_key, mean.shape)
        z = mean + jnp.exp(0.5 * logvar) * eps
        return self.dec(z), mean, logvar


def elbo_loss(params, model, probs, key):
    bin_key, z_key = jax.random.split(key)
    x = jax.random.bernoulli(bin_key, probs).astype(jnp.float32)
    logits, mean, logvar = model.apply({"params": params}, x, z_key)
    recon = optax.sigmoid_binary_cross_entropy(logits, x).sum(-1)
    kl = -0.5 * jnp.sum(1 + logvar - mean ** 2 - jnp.exp(logvar), axis=-1)
    return jnp.mean(recon + kl)


def make_step(model, tx):
    @jax.jit
    def step(params, opt_state, probs, key):
        loss, grads = jax.value_and_grad(elbo_loss)(params, model, probs, key)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, grads

    return step


if __name__ == "__main__":
    k_init, k_data, k_z, k_step = jax.random.split(jax.random.PRNGKey(0), 4)
    model = VAE()
    probs = jax.random.uniform(k_data, (16, 8))
    params = model.init(k_init, jnp.ones((1, 8)), k_z)["params"]
    tx = optax.adam(1e-2)
    step = make_step(model, tx)
    new_params, _, loss, grads = step(params, tx.init(params), probs, k_step)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.any(new_params["enc"]["kernel"] != params["enc"]["kernel"]))
