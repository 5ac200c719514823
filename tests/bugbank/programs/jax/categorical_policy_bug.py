"""Flax linen policy trained by regressing the action drawn with jax.random.categorical onto a target: zero gradient.

Source: https://github.com/jax-ml/jax/issues/17556
Label: buggy
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax
from flax.training import train_state


class Policy(nn.Module):
    n_actions: int = 4

    @nn.compact
    def __call__(self, obs):
        return nn.Dense(self.n_actions)(nn.tanh(nn.Dense(16)(obs)))


def loss_fn(params, apply_fn, obs, wanted, key):
    logits = apply_fn({"params": params}, obs)
    actions = jax.random.categorical(key, logits, axis=-1)  # BUG
    return jnp.mean((actions - wanted) ** 2.0)


def main():
    key = jax.random.PRNGKey(0)
    obs = jax.random.normal(key, (8, 3))
    wanted = jnp.zeros(8)
    model = Policy()
    state = train_state.TrainState.create(apply_fn=model.apply, params=model.init(key, obs)["params"],
                                          tx=optax.adam(0.1))
    for step in range(2):
        key, sub = jax.random.split(key)
        grads = jax.grad(loss_fn)(state.params, state.apply_fn, obs, wanted, sub)
        state = state.apply_gradients(grads=grads)
    assert all(float(jnp.abs(g).sum()) == 0.0 for g in jax.tree_util.tree_leaves(grads))


if __name__ == "__main__":
    main()
