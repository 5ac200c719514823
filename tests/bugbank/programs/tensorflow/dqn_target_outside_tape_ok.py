"""A DQN agent computes its TD targets from a target network under training=False before the tape, counts updates in a non-trainable tf.Variable, and copies the online weights into the target every few steps; the online network trains.

Source: https://github.com/openai/baselines/issues/105
        https://github.com/philtabor/Deep-Q-Learning-Paper-To-Code/issues/16
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


def q_network(n_obs, n_actions):
    return tf.keras.Sequential([
        tf.keras.Input((n_obs,)),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(n_actions),
    ])


class Agent:
    def __init__(self, n_obs=4, n_actions=2, gamma=0.99, sync_every=2):
        self.online = q_network(n_obs, n_actions)
        self.target = q_network(n_obs, n_actions)
        self.target.set_weights(self.online.get_weights())
        self.opt = tf.keras.optimizers.Adam(1e-3)
        self.gamma = gamma
        self.sync_every = sync_every
        self.updates = tf.Variable(0, trainable=False, dtype=tf.int64)

    def learn(self, obs, actions, rewards, next_obs, done):
        next_q = self.target(next_obs, training=False)
        td_target = rewards + self.gamma * (1.0 - done) * tf.reduce_max(next_q, axis=1)
        with tf.GradientTape() as tape:
            q = self.online(obs, training=True)
            q_taken = tf.reduce_sum(q * tf.one_hot(actions, q.shape[-1]), axis=1)
            loss = tf.reduce_mean(tf.keras.losses.huber(td_target[:, None], q_taken[:, None]))
        grads = tape.gradient(loss, self.online.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.online.trainable_variables))
        self.updates.assign_add(1)
        if int(self.updates.numpy()) % self.sync_every == 0:
            self.target.set_weights(self.online.get_weights())
        return grads


tf.random.set_seed(5)
rng = np.random.default_rng(5)
agent = Agent()
before = agent.online.layers[-1].kernel.numpy().copy()
for _ in range(3):
    grads = agent.learn(
        tf.constant(rng.normal(size=(8, 4)), tf.float32),
        tf.constant(rng.integers(0, 2, size=8), tf.int32),
        tf.constant(rng.normal(size=8), tf.float32),
        tf.constant(rng.normal(size=(8, 4)), tf.float32),
        tf.constant(rng.integers(0, 2, size=8), tf.float32),
    )
assert all(g is not None for g in grads)
assert np.abs(agent.online.layers[-1].kernel.numpy() - before).sum() > 0
