"""DQN learner in JAX/optax that applies the optimizer's updates to the target parameters instead of the online ones.

Source: https://github.com/fg91/Deep-Q-Learning/issues/5
Label: buggy
Family: jax
Frameworks: jax, optax
"""
import jax
import jax.numpy as jnp
import optax


def q_net(params, obs):
    return jnp.tanh(obs @ params["w1"]) @ params["w2"]


def td_loss(online, target, obs, act, rew, next_obs):
    q = jnp.take_along_axis(q_net(online, obs), act[:, None], axis=1)[:, 0]
    y = jax.lax.stop_gradient(rew + 0.9 * q_net(target, next_obs).max(axis=1))
    return jnp.mean((q - y) ** 2)


class Learner:
    def __init__(self, key):
        k1, k2 = jax.random.split(key)
        self.online = {"w1": jax.random.normal(k1, (4, 8)) * 0.5, "w2": jax.random.normal(k2, (8, 2)) * 0.5}
        self.target = jax.tree_util.tree_map(lambda p: p + 0.0, self.online)
        self.tx = optax.adam(1e-2)
        self.opt_state = self.tx.init(self.online)

    def update(self, obs, act, rew, next_obs):
        grads = jax.grad(td_loss)(self.online, self.target, obs, act, rew, next_obs)
        updates, self.opt_state = self.tx.update(grads, self.opt_state, self.online)
        self.target = optax.apply_updates(self.target, updates)  # BUG
        return grads


if __name__ == "__main__":
    key = jax.random.PRNGKey(0)
    learner = Learner(key)
    start = learner.online
    obs = jax.random.normal(key, (5, 4))
    act = jnp.array([0, 1, 1, 0, 1])
    rew = jnp.ones(5)
    for _ in range(3):
        grads = learner.update(obs, act, rew, obs * 0.9)
    assert float(jnp.abs(grads["w1"]).sum()) > 0
    assert all(bool(jnp.array_equal(a, b)) for a, b in
               zip(jax.tree_util.tree_leaves(start), jax.tree_util.tree_leaves(learner.online)))
