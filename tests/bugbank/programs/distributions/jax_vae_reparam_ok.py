"""JAX/optax VAE: z = mu + exp(logvar/2) * jax.random.normal(key) trains the encoder; jax.random.bernoulli only draws images after training.

Source: https://github.com/jax-ml/jax/issues/11606
Label: clean
Family: sampling
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def init_params(key, x_dim=8, z_dim=2):
    k1, k2 = jax.random.split(key)
    return {
        "enc": jax.random.normal(k1, (x_dim, 2 * z_dim)) * 0.1,
        "dec": jax.random.normal(k2, (z_dim, x_dim)) * 0.1,
    }


def encode(params, x):
    h = x @ params["enc"]
    mu, logvar = jnp.split(h, 2, axis=-1)
    return mu, logvar


def loss_fn(params, x, key):
    mu, logvar = encode(params, x)
    eps = jax.random.normal(key, mu.shape)
    z = mu + jnp.exp(0.5 * logvar) * eps
    logits = z @ params["dec"]
    recon = optax.sigmoid_binary_cross_entropy(logits, x).sum(-1).mean()
    kl = -0.5 * jnp.sum(1 + logvar - mu**2 - jnp.exp(logvar), axis=-1).mean()
    return recon + kl


def sample_images(params, key, n=4):
    kz, kx = jax.random.split(key)
    z = jax.random.normal(kz, (n, params["dec"].shape[0]))
    return jax.random.bernoulli(kx, jax.nn.sigmoid(z @ params["dec"]))


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    params = init_params(key)
    opt = optax.adam(1e-2)
    state = opt.init(params)
    x = (jax.random.uniform(jax.random.PRNGKey(1), (16, 8)) > 0.5).astype(jnp.float32)
    grads = jax.grad(loss_fn)(params, x, jax.random.PRNGKey(2))
    assert float(jnp.abs(grads["enc"]).sum()) > 0
    updates, state = opt.update(grads, state)
    params = optax.apply_updates(params, updates)
    imgs = sample_images(params, jax.random.PRNGKey(3))
    assert imgs.shape == (4, 8)
