"""Flax linen policy trained with REINFORCE: actions from jax.random.categorical, gradient via log-softmax * advantage.

Source: https://github.com/jax-ml/jax/issues/17556
        https://github.com/openai/spinningup/issues/171
Label: clean
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


def reinforce_loss(params, apply_fn, obs, key):
    logits = apply_fn({"params": params}, obs)
    actions = jax.random.categorical(key, logits, axis=-1)
    rewards = (actions == 0).astype(jnp.float32)
    advantage = rewards - rewards.mean()
    logp = jnp.take_along_axis(jax.nn.log_softmax(logits), actions[:, None], axis=-1)[:, 0]
    return -jnp.mean(logp * advantage)


def main():
    key = jax.random.PRNGKey(1)
    obs = jax.random.normal(key, (32, 3))
    model = Policy()
    state = train_state.TrainState.create(apply_fn=model.apply, params=model.init(key, obs)["params"],
                                          tx=optax.adam(0.05))
    key, sub = jax.random.split(key)
    grads = jax.grad(reinforce_loss)(state.params, state.apply_fn, obs, sub)
    assert float(jnp.abs(grads["Dense_1"]["kernel"]).sum()) > 0
    assert float(jnp.abs(grads["Dense_0"]["kernel"]).sum()) > 0
    state = state.apply_gradients(grads=grads)


if __name__ == "__main__":
    main()
