"""Flax linen CNN fine-tuning with the conv feature extractor frozen on purpose by optax.multi_transform(set_to_zero): the dense head trains, the loss keeps every gradient.

Source: https://github.com/google-deepmind/optax/issues/477
        https://github.com/google-deepmind/optax/issues/296
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax import traverse_util
from flax.training import train_state


class SmallCNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(features=4, kernel_size=(3, 3))(x))
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        return nn.Dense(features=3)(x)


def label_fn(params):
    flat = traverse_util.flatten_dict(params)
    labels = {path: ("zero" if path[0].startswith("Conv") else "train") for path in flat}
    return traverse_util.unflatten_dict(labels)


def create_train_state(rng, lr=0.1):
    model = SmallCNN()
    params = model.init(rng, jnp.ones((1, 8, 8, 1)))["params"]
    tx = optax.multi_transform({"train": optax.sgd(lr, momentum=0.9), "zero": optax.set_to_zero()}, label_fn(params))
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=tx)


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits = state.apply_fn({"params": params}, images)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, logits

    (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    acc = jnp.mean(jnp.argmax(logits, -1) == labels)
    return state.apply_gradients(grads=grads), {"loss": loss, "accuracy": acc}, grads


if __name__ == "__main__":
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    state = create_train_state(k1)
    images = jax.random.normal(k2, (8, 8, 8, 1))
    labels = jax.random.randint(k3, (8,), 0, 3)
    before = state.params
    state, metrics, grads = train_step(state, images, labels)
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    assert bool(jnp.any(state.params["Dense_0"]["kernel"] != before["Dense_0"]["kernel"]))
    assert bool(jnp.all(state.params["Conv_0"]["kernel"] == before["Conv_0"]["kernel"]))
