"""Flax linen text classifier meant to freeze only the embedding table: loss_fn maps jax.lax.stop_gradient over the WHOLE params tree before apply, so every gradient is zero.

Source: https://github.com/google/flax/issues/1857
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn
from flax.training import train_state


class BagOfWords(nn.Module):
    vocab: int = 20
    dim: int = 8

    @nn.compact
    def __call__(self, tokens):
        emb = nn.Embed(self.vocab, self.dim, name="embed")(tokens).mean(axis=1)
        return nn.Dense(2, name="head")(nn.relu(nn.Dense(16, name="hidden")(emb)))


def make_loss(apply_fn):
    def loss_fn(params, tokens, labels):
        frozen = jax.tree_util.tree_map(jax.lax.stop_gradient, params)  # BUG
        logits = apply_fn({"params": frozen}, tokens)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss_fn


def train(state, tokens, labels, steps=2):
    loss_fn = make_loss(state.apply_fn)
    grad_fn = jax.jit(jax.grad(loss_fn))
    for _ in range(steps):
        grads = grad_fn(state.params, tokens, labels)
        state = state.apply_gradients(grads=grads)
    return state, grads


if __name__ == "__main__":
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    model = BagOfWords()
    tokens = jax.random.randint(k2, (6, 5), 0, 20)
    labels = jax.random.randint(k3, (6,), 0, 2)
    params = model.init(k1, tokens)["params"]
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(0.5))
    state, grads = train(state, tokens, labels)
    assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.all(state.params["head"]["kernel"] == params["head"]["kernel"]))
