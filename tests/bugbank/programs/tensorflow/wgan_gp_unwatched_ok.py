"""A WGAN-GP critic step watches the interpolated batch in a nested tape, takes the critic's input gradient, and adds the penalty to the loss of the outer tape, so the critic's weights get the penalty's gradient.

Source: https://github.com/tensorflow/tensorflow/issues/36436
        https://github.com/eriklindernoren/Keras-GAN/issues/215
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf

critic = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(8, activation="tanh"), tf.keras.layers.Dense(1)])
generator = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(3)])
c_opt = tf.keras.optimizers.Adam(1e-3)


def gradient_penalty(real, fake):
    eps = tf.random.uniform([tf.shape(real)[0], 1])
    mixed = eps * real + (1.0 - eps) * fake
    with tf.GradientTape() as gp_tape:
        gp_tape.watch(mixed)
        score = critic(mixed, training=True)
    g = gp_tape.gradient(score, mixed)
    slopes = tf.sqrt(tf.reduce_sum(tf.square(g), axis=1) + 1e-12)
    return tf.reduce_mean((slopes - 1.0) ** 2)


def critic_step(real, z):
    fake = generator(z, training=False)
    with tf.GradientTape() as tape:
        w_dist = tf.reduce_mean(critic(fake, training=True)) - tf.reduce_mean(critic(real, training=True))
        loss = w_dist + 10.0 * gradient_penalty(real, fake)
    grads = tape.gradient(loss, critic.trainable_variables)
    c_opt.apply_gradients(zip(grads, critic.trainable_variables))
    return grads


tf.random.set_seed(1)
grads = critic_step(tf.random.normal([8, 3]), tf.random.normal([8, 2]))
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
