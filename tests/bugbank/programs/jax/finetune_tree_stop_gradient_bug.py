"""Fine-tuning a Flax linen head on a pretrained encoder: stop_gradient is mapped over the whole params tree instead of the encoder subtree, so the head gets zero gradients too.

Source: https://github.com/google-research/scenic/issues/656
        https://github.com/google-deepmind/optax/issues/290
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn


class Encoder(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.tanh(nn.Dense(8)(x))


class Head(nn.Module):
    classes: int

    @nn.compact
    def __call__(self, h):
        return nn.Dense(self.classes)(h)


encoder, head = Encoder(), Head(classes=2)


def make_loss(enc_apply, head_apply):
    def loss(params, x, y):
        frozen = jax.tree.map(jax.lax.stop_gradient, params)  # BUG
        feats = enc_apply({"params": frozen["encoder"]}, x)
        logits = head_apply({"params": frozen["head"]}, feats)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss


def main():
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(k1, (10, 5))
    y = (x[:, 0] > 0).astype(jnp.int32)
    params = {"encoder": encoder.init(k2, x)["params"]}
    params["head"] = head.init(k3, jnp.zeros((1, 8)))["params"]
    loss = make_loss(encoder.apply, head.apply)
    tx = optax.sgd(0.5)
    opt_state = tx.init(params)
    step = jax.jit(jax.grad(loss))
    for _ in range(2):
        grads = step(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads["head"]))


if __name__ == "__main__":
    main()
