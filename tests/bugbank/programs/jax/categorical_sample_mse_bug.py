"""Flax linen TrainState: the loss compares jax.random.categorical samples of the model's output with the target, so every parameter gradient is zero.

Source: https://github.com/jax-ml/jax/issues/17556
        https://github.com/jax-ml/jax/issues/17555
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn
from flax.training import train_state


class BucketPicker(nn.Module):
    n_buckets: int = 4

    @nn.compact
    def __call__(self, x):
        return nn.log_softmax(nn.Dense(self.n_buckets)(nn.relu(nn.Dense(8)(x))))


def sample_buckets(log_probs, key):
    return jax.random.categorical(key, log_probs, axis=-1)  # BUG


def calculate_loss(params, apply_fn, x, target, key):
    log_probs = apply_fn(params, x)
    picked = sample_buckets(log_probs, key)
    return jnp.mean(jnp.square(picked - target))


@jax.jit
def train_step(state, x, target, key):
    loss, grads = jax.value_and_grad(calculate_loss)(state.params, state.apply_fn, x, target, key)
    return state.apply_gradients(grads=grads), loss, grads


if __name__ == "__main__":
    main_key = jax.random.PRNGKey(0)
    main_key, init_key, data_key = jax.random.split(main_key, 3)
    model = BucketPicker()
    x = jax.random.normal(data_key, (16, 5))
    target = jnp.zeros(16)
    params = model.init(init_key, x[:1])
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(0.1))
    for _ in range(2):
        main_key, step_key = jax.random.split(main_key)
        state, loss, grads = train_step(state, x, target, step_key)
        assert all(bool(jnp.all(g == 0)) for g in jax.tree_util.tree_leaves(grads))
