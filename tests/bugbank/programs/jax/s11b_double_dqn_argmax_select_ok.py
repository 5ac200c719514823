"""Double DQN agent class in Flax Linen: the online net picks the next action with argmax, the target net scores it, and the TD target is wrapped in lax.stop_gradient by a helper; the online Q-network trains.

Source: https://crackedaicode.com/problems/jax-stop-gradient-target-network
        https://www.tildee.com/building-a-cartpole-agent-from-scratch-deep-q-learning-with-jax-haiku-and-optax
Label: clean
Family: jax
Frameworks: jax, flax, optax
"""
import jax
import jax.numpy as jnp
import flax.linen as nn
import optax


class QNet(nn.Module):
    n_actions: int

    @nn.compact
    def __call__(self, obs):
        return nn.Dense(self.n_actions)(nn.relu(nn.Dense(32)(obs)))


def td_target(online_next_q, target_next_q, reward, done, gamma):
    best = jnp.argmax(online_next_q, axis=-1)
    chosen = jnp.take_along_axis(target_next_q, best[:, None], axis=-1)[:, 0]
    return jax.lax.stop_gradient(reward + gamma * (1.0 - done) * chosen)


class DoubleDQN:
    def __init__(self, key, obs_dim, n_actions, gamma=0.99):
        self.net = QNet(n_actions)
        self.params = self.net.init(key, jnp.zeros((1, obs_dim)))["params"]
        self.target_params = self.params
        self.tx = optax.chain(optax.clip_by_global_norm(10.0), optax.adam(3e-3))
        self.opt_state = self.tx.init(self.params)
        self.gamma = gamma

    def loss(self, params, target_params, batch):
        obs, action, reward, next_obs, done = batch
        q = self.net.apply({"params": params}, obs)
        q_taken = jnp.take_along_axis(q, action[:, None], axis=-1)[:, 0]
        target = td_target(self.net.apply({"params": params}, next_obs),
                           self.net.apply({"params": target_params}, next_obs),
                           reward, done, self.gamma)
        return optax.huber_loss(q_taken, target).mean()

    def update(self, batch):
        grads = jax.grad(self.loss)(self.params, self.target_params, batch)
        updates, self.opt_state = self.tx.update(grads, self.opt_state, self.params)
        self.params = optax.apply_updates(self.params, updates)
        return grads

    def sync_target(self):
        self.target_params = self.params


keys = jax.random.split(jax.random.PRNGKey(0), 4)
agent = DoubleDQN(keys[0], 4, 2)
batch = (jax.random.normal(keys[1], (8, 4)), jnp.arange(8) % 2, jnp.ones(8),
         jax.random.normal(keys[2], (8, 4)), jnp.zeros(8))
start = agent.params
for t in range(3):
    grads = agent.update(batch)
    if t == 1:
        agent.sync_target()

assert bool(jnp.any(grads["Dense_0"]["kernel"] != 0))
assert bool(jnp.any(agent.params["Dense_0"]["kernel"] != start["Dense_0"]["kernel"]))
