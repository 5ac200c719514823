"""Linen autoencoder with a rounding bottleneck written as a straight-through estimator: the encoder trains.

Source: https://github.com/Justin-Tan/generative-compression/issues/27
        https://github.com/jax-ml/jax/issues/9032
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


def quantize(z, levels=4.0):
    hard = jnp.round(z * levels) / levels
    # forward value is the rounded code, backward is the identity
    return z - jax.lax.stop_gradient(z) + jax.lax.stop_gradient(hard)


class Encoder(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.tanh(nn.Dense(2)(x))


class Decoder(nn.Module):
    @nn.compact
    def __call__(self, code):
        return nn.Dense(4)(code)


class Codec(nn.Module):
    def setup(self):
        self.encoder = Encoder()
        self.decoder = Decoder()

    def __call__(self, x):
        code = quantize(self.encoder(x))
        return self.decoder(code)


def reconstruction_loss(params, model, x):
    recon = model.apply({"params": params}, x)
    return jnp.mean((recon - x) ** 2)


if __name__ == "__main__":
    model = Codec()
    x = jax.random.normal(jax.random.PRNGKey(0), (16, 4))
    params = model.init(jax.random.PRNGKey(1), x)["params"]
    tx = optax.adam(1e-2)
    opt_state = tx.init(params)
    grads = jax.grad(reconstruction_loss)(params, model, x)
    updates, opt_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    enc = jax.tree_util.tree_leaves(grads["encoder"])
    assert all(bool(jnp.any(g != 0)) for g in enc)
    assert bool(jnp.any(new_params["encoder"]["Dense_0"]["kernel"] != params["encoder"]["Dense_0"]["kernel"]))
