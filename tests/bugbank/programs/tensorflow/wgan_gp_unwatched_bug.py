"""A WGAN-GP critic step builds the interpolated batch inside a nested tape but never watches it, so the gradient of the critic with respect to the interpolates is None and the penalty cannot be formed.

Source: https://github.com/tensorflow/tensorflow/issues/36436
        https://github.com/eriklindernoren/Keras-GAN/issues/215
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf

critic = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(8, activation="tanh"), tf.keras.layers.Dense(1)])
generator = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3)])


def penalty_gradient(real, fake):
    eps = tf.random.uniform([tf.shape(real)[0], 1])
    with tf.GradientTape() as gp_tape:
        mixed = eps * real + (1.0 - eps) * fake
        score = critic(mixed, training=True)
    return gp_tape.gradient(score, mixed)  # BUG


tf.random.set_seed(1)
real = tf.random.normal([8, 3])
fake = generator(tf.random.normal([8, 2]))
slope_grad = penalty_gradient(real, fake)
assert slope_grad is None
