"""A DQN agent picks Q(s, a) for the taken actions with a NumPy helper (model(obs).numpy() and np.take_along_axis) called inside the tape; the loss is built from a constant, so every gradient of the Q-network is None.

Source: https://github.com/SciSharp/TensorFlow.NET/issues/1197
        https://github.com/openai/baselines/issues/105
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


def q_of_taken(net, obs, actions):
    q = net(obs).numpy()  # BUG
    return np.take_along_axis(q, actions[:, None], axis=1)[:, 0]


class Agent:
    def __init__(self, n_actions=2, gamma=0.9):
        self.q = tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(n_actions)])
        self.q_target = tf.keras.models.clone_model(self.q)
        self.gamma = gamma
        self.opt = tf.keras.optimizers.Adam(1e-3)

    def learn(self, obs, actions, rewards, next_obs):
        next_best = tf.reduce_max(self.q_target(next_obs), axis=1)
        y = rewards + self.gamma * next_best
        with tf.GradientTape() as tape:
            q_sa = q_of_taken(self.q, obs, actions)
            loss = tf.reduce_mean(tf.square(y - q_sa))
        return tape.gradient(loss, self.q.trainable_variables)


if __name__ == "__main__":
    tf.random.set_seed(9)
    rng = np.random.default_rng(9)
    obs = rng.normal(size=(8, 3)).astype("float32")
    next_obs = rng.normal(size=(8, 3)).astype("float32")
    actions = rng.integers(0, 2, size=8)
    rewards = rng.normal(size=8).astype("float32")
    agent = Agent()
    agent.q(obs)
    agent.q_target(obs)
    grads = agent.learn(obs, actions, rewards, next_obs)
    assert all(g is None for g in grads), "the NumPy round trip cut the Q-network off"
