"""Linear probe in Flax linen: a pretrained encoder is frozen on purpose with stop_gradient, only the head trains.

Source: https://github.com/jax-ml/jax/issues/2025
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


class Encoder(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.relu(nn.Dense(16)(x))


class Probe(nn.Module):
    classes: int = 3

    @nn.compact
    def __call__(self, feats):
        return nn.Dense(self.classes)(feats)


encoder, probe = Encoder(), Probe()


def probe_loss(head_params, enc_params, x, labels):
    feats = jax.lax.stop_gradient(encoder.apply({"params": enc_params}, x))
    logits = probe.apply({"params": head_params}, feats)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    x = jax.random.normal(key, (12, 6))
    labels = jnp.arange(12) % 3
    enc_params = encoder.init(key, x)["params"]  # stands in for a loaded checkpoint
    head_params = probe.init(key, jnp.zeros((1, 16)))["params"]
    tx = optax.adam(1e-2)
    opt_state = tx.init(head_params)
    grads = jax.grad(probe_loss)(head_params, enc_params, x, labels)
    assert float(jnp.abs(grads["Dense_0"]["kernel"]).sum()) > 0
    updates, opt_state = tx.update(grads, opt_state, head_params)
    head_params = optax.apply_updates(head_params, updates)
