"""DQN-style TD update in JAX: stop_gradient on the bootstrapped target only, the online Q-values train.

Source: https://github.com/openai/baselines/issues/105
Label: clean
Family: jax
Frameworks: jax
"""
import jax
import jax.numpy as jnp


def q_values(params, obs):
    h = jax.nn.relu(obs @ params["w1"] + params["b1"])
    return h @ params["w2"]


def td_loss(params, obs, actions, rewards, next_obs, gamma=0.99):
    q = q_values(params, obs)
    q_taken = jnp.take_along_axis(q, actions[:, None], axis=1)[:, 0]
    # bootstrapping from the same network: the target must be a constant
    target = jax.lax.stop_gradient(rewards + gamma * q_values(params, next_obs).max(axis=1))
    return jnp.mean((q_taken - target) ** 2)


def init(key, obs_dim=4, n_actions=2):
    k1, k2 = jax.random.split(key)
    return {"w1": jax.random.normal(k1, (obs_dim, 16)) * 0.5, "b1": jnp.zeros(16),
            "w2": jax.random.normal(k2, (16, n_actions)) * 0.5}


if __name__ == "__main__":
    key = jax.random.PRNGKey(3)
    params = init(key)
    obs = jax.random.normal(key, (6, 4))
    next_obs = obs + 0.1
    actions = jnp.array([0, 1, 0, 1, 1, 0])
    rewards = jnp.ones(6)
    grads = jax.grad(td_loss)(params, obs, actions, rewards, next_obs)
    assert float(jnp.abs(grads["w2"]).sum()) > 0 and float(jnp.abs(grads["w1"]).sum()) > 0
