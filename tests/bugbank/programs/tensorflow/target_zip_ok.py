"""The DQN update applies the online network's gradients to the online variables and moves the target network only by a Polyak assign; the Q-network learns.

Source: https://github.com/tensorforce/tensorforce/pull/81
        https://github.com/mead-ml/mead-baseline/pull/368
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


def make_q_net(n_obs=4, n_actions=2):
    return keras.Sequential([keras.Input((n_obs,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(n_actions)])


class Agent:
    def __init__(self, gamma=0.9, tau=0.1):
        self.q_net = make_q_net()
        self.target_net = make_q_net()
        self.target_net.set_weights(self.q_net.get_weights())
        self.optimizer = keras.optimizers.Adam(1e-2)
        self.gamma = gamma
        self.tau = tau

    def learn(self, obs, actions, rewards, next_obs, dones):
        next_q = tf.reduce_max(self.target_net(next_obs), axis=1)
        targets = tf.stop_gradient(rewards + self.gamma * (1.0 - dones) * next_q)
        with tf.GradientTape() as tape:
            q = tf.reduce_sum(self.q_net(obs) * tf.one_hot(actions, 2), axis=1)
            loss = tf.reduce_mean(tf.square(targets - q))
        grads = tape.gradient(loss, self.q_net.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.q_net.trainable_variables))
        for target_var, online_var in zip(self.target_net.trainable_variables, self.q_net.trainable_variables):
            target_var.assign(self.tau * online_var + (1.0 - self.tau) * target_var)
        return loss


tf.random.set_seed(0)
rng = np.random.default_rng(0)
agent = Agent()
before = [w.copy() for w in agent.q_net.get_weights()]
for _ in range(3):
    agent.learn(rng.normal(size=(8, 4)).astype("float32"), rng.integers(0, 2, 8),
                rng.normal(size=8).astype("float32"), rng.normal(size=(8, 4)).astype("float32"),
                np.zeros(8, "float32"))
assert all(not np.array_equal(b, a) for b, a in zip(before, agent.q_net.get_weights()))
