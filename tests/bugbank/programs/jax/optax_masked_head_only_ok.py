"""Flax linen fine-tuning: adamw with weight decay masked off the biases, and the backbone frozen by optax.masked(set_to_zero(), backbone_mask) chained after it; only the head moves.

Source: https://github.com/google-deepmind/optax/issues/296
        https://github.com/google-deepmind/optax/issues/159
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax import traverse_util


class Classifier(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(16, name="backbone")(x))
        return nn.Dense(3, name="head")(h)


def path_mask(params, keep):
    flat = traverse_util.flatten_dict(params)
    return traverse_util.unflatten_dict({path: keep(path) for path in flat})


def make_optimizer(params):
    decay = path_mask(params, lambda path: path[-1] != "bias")
    frozen = path_mask(params, lambda path: path[0] == "backbone")
    return optax.chain(
        optax.adamw(1e-2, weight_decay=1e-4, mask=decay),
        optax.masked(optax.set_to_zero(), frozen),
    )


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
    new_params = params
    for _ in range(3):
        grads = jax.grad(loss_fn)(new_params, model, x, y)
        updates, opt_state = tx.update(grads, opt_state, new_params)
        new_params = optax.apply_updates(new_params, updates)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.all(new_params["backbone"]["kernel"] == params["backbone"]["kernel"]))
    assert bool(jnp.any(new_params["head"]["kernel"] != params["head"]["kernel"]))
    assert float(loss_fn(new_params, model, x, y)) < float(loss_fn(params, model, x, y))
