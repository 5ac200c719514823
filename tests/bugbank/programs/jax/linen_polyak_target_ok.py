"""Flax linen DQN step with a Polyak-averaged target network: the target Q-values are wrapped in stop_gradient and the target params follow by optax.incremental_update.

Source: https://github.com/vwxyzjn/cleanrl/pull/347
        https://github.com/openai/baselines/issues/105
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import optax
import flax.linen as nn
from flax.training.train_state import TrainState


class QNetwork(nn.Module):
    n_actions: int

    @nn.compact
    def __call__(self, obs):
        h = nn.relu(nn.Dense(32)(obs))
        return nn.Dense(self.n_actions)(h)


class DQNState(TrainState):
    target_params: dict


@jax.jit
def update(state, obs, actions, rewards, next_obs, dones, gamma=0.99, tau=0.05):
    next_q = state.apply_fn(state.target_params, next_obs)
    target = rewards + gamma * (1.0 - dones) * jnp.max(next_q, axis=-1)
    target = jax.lax.stop_gradient(target)

    def td_loss(params):
        q = state.apply_fn(params, obs)
        q_taken = jnp.take_along_axis(q, actions[:, None], axis=-1)[:, 0]
        loss = jnp.mean((q_taken - target) ** 2)
        return loss, {"q_mean": q_taken.mean(), "td": loss}

    (loss, info), grads = jax.value_and_grad(td_loss, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    state = state.replace(target_params=optax.incremental_update(state.params, state.target_params, tau))
    return state, info, grads


def make_state(key, obs_dim=4, n_actions=3):
    net = QNetwork(n_actions)
    params = net.init(key, jnp.zeros((1, obs_dim)))
    return DQNState.create(apply_fn=net.apply, params=params, target_params=params, tx=optax.adam(1e-3))


if __name__ == "__main__":
    k_init, k_obs, k_next, k_act = jax.random.split(jax.random.PRNGKey(0), 4)
    state = make_state(k_init)
    obs = jax.random.normal(k_obs, (16, 4))
    next_obs = jax.random.normal(k_next, (16, 4))
    actions = jax.random.randint(k_act, (16,), 0, 3)
    rewards = jnp.ones(16)
    dones = jnp.zeros(16)
    before = state.params
    state, info, grads = update(state, obs, actions, rewards, next_obs, dones)
    history = {k: float(v) for k, v in jax.device_get(info).items()}
    assert history["td"] > 0
    assert all(bool(jnp.any(g != 0)) for g in jax.tree_util.tree_leaves(grads))
    moved = jax.tree_util.tree_map(lambda a, b: bool(jnp.any(a != b)), before, state.params)
    assert all(jax.tree_util.tree_leaves(moved))
