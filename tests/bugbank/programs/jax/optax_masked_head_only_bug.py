"""Flax linen fine-tuning meant to train only the head with optax.masked(adam, head_mask): masked passes the backbone's raw gradients through as updates, so the "frozen" backbone is pushed up the gradient instead of staying still.

Source: https://github.com/google-deepmind/optax/issues/159
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn


class Classifier(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(16, name="backbone")(x))
        return nn.Dense(3, name="head")(h)


def head_only(params):
    return {name: jax.tree_util.tree_map(lambda _: name == "head", sub) for name, sub in params.items()}


def make_optimizer(params):
    return optax.masked(optax.adam(1e-3), head_only(params))  # BUG


def loss_fn(params, model, x, y):
    logits = model.apply({"params": params}, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


if __name__ == "__main__":
    model = Classifier()
    kx, ky, kp = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(kx, (8, 5))
    y = jax.random.randint(ky, (8,), 0, 3)
    params = model.init(kp, x)["params"]
    tx = make_optimizer(params)
    opt_state = tx.init(params)
    grads = jax.grad(loss_fn)(params, model, x, y)
    updates, opt_state = tx.update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    kernel, g = params["backbone"]["kernel"], grads["backbone"]["kernel"]
    # the backbone was meant to stay frozen: it moved by +gradient (ascent, learning rate 1)
    assert bool(jnp.any(g != 0))
    assert bool(jnp.allclose(new_params["backbone"]["kernel"], kernel + g))
    assert float(loss_fn(new_params, model, x, y)) > float(loss_fn(params, model, x, y))
