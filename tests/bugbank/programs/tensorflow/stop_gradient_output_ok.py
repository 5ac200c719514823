"""A DQN update puts tf.stop_gradient on the bootstrapped target only: the online Q-network still receives its gradient.

Source: https://github.com/bourdakos1/capsule-networks/issues/9
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import keras

GAMMA = 0.9
q_net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
opt = keras.optimizers.Adam(1e-3)


def td_step(s, a, r, s_next, done):
    with tf.GradientTape() as tape:
        q = tf.reduce_sum(q_net(s) * tf.one_hot(a, 2), axis=-1)
        bootstrap = tf.reduce_max(q_net(s_next), axis=-1)
        target = tf.stop_gradient(r + GAMMA * (1.0 - done) * bootstrap)
        loss = tf.reduce_mean(tf.square(target - q))
    grads = tape.gradient(loss, q_net.trainable_variables)
    opt.apply_gradients(zip(grads, q_net.trainable_variables))
    return grads


tf.random.set_seed(0)
s = tf.random.normal([8, 4])
s_next = tf.random.normal([8, 4])
a = tf.random.uniform([8], 0, 2, dtype=tf.int32)
r = tf.random.normal([8])
grads = td_step(s, a, r, s_next, tf.zeros([8]))
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
