"""Ordinal classifier in Flax linen: inside the loss the continuous TARGETS are bucketed with jnp.digitize, cast with astype(jnp.int32) and one-hot encoded; the predictions stay floating point, so the gradient arrives.

Source: https://github.com/jax-ml/jax/issues/424
        https://github.com/google-deepmind/optax/issues/477
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn

EDGES = jnp.array([-1.0, 0.0, 1.0])


class Grader(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(len(EDGES) + 1)(nn.swish(nn.Dense(12)(x)))


model = Grader()


def loss_fn(params, x, scores):
    buckets = jnp.digitize(scores, EDGES).astype(jnp.int32)
    targets = optax.smooth_labels(jax.nn.one_hot(buckets, len(EDGES) + 1), 0.1)
    logits = model.apply({"params": params}, x)
    return optax.softmax_cross_entropy(logits, targets).mean()


@jax.jit
def sgd_step(params, x, scores, lr=0.2):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, scores)
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss, grads


if __name__ == "__main__":
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    x = jax.random.normal(k1, (24, 4))
    scores = x[:, 0] * 1.5 + 0.1 * x[:, 1]
    params = model.init(k2, x[:1])["params"]
    new_params, loss, grads = sgd_step(params, x, scores)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert float(loss_fn(new_params, x, scores)) < float(loss)
