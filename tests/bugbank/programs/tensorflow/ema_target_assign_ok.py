"""A BYOL-style step trains an online encoder against projections from a target encoder wrapped in tf.stop_gradient, then moves the target's variables toward the online ones with assign; the online encoder trains and the target follows by averaging.

Source: https://github.com/openai/baselines/issues/105
        https://github.com/fg91/Deep-Q-Learning/issues/5
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


def encoder():
    return tf.keras.Sequential([tf.keras.Input((5,)), tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(4)])


online, target = encoder(), encoder()
predictor = tf.keras.layers.Dense(4)
predictor.build((None, 4))
target.set_weights(online.get_weights())
opt = tf.keras.optimizers.Adam(1e-2)


def cosine_loss(p, z):
    p = tf.math.l2_normalize(p, axis=-1)
    z = tf.math.l2_normalize(z, axis=-1)
    return 2.0 - 2.0 * tf.reduce_mean(tf.reduce_sum(p * z, axis=-1))


def update_target(tau=0.9):
    for t_var, o_var in zip(target.trainable_variables, online.trainable_variables):
        t_var.assign(tau * t_var + (1.0 - tau) * o_var)


def step(view_a, view_b):
    with tf.GradientTape() as tape:
        p = predictor(online(view_a, training=True))
        z = tf.stop_gradient(target(view_b, training=False))
        loss = cosine_loss(p, z)
    params = online.trainable_variables + predictor.trainable_variables
    grads = tape.gradient(loss, params)
    opt.apply_gradients(zip(grads, params))
    update_target()
    return grads


tf.random.set_seed(12)
x = tf.random.normal([16, 5])
start = online.layers[0].kernel.numpy().copy()
for _ in range(2):
    grads = step(x + 0.1 * tf.random.normal([16, 5]), x + 0.1 * tf.random.normal([16, 5]))
assert all(g is not None for g in grads)
assert np.abs(online.layers[0].kernel.numpy() - start).sum() > 0
