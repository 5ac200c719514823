"""A DCGAN-style step opens the generator and discriminator tapes together and draws the fakes inside them; each network's loss is differentiated by its own tape, so both get gradients.

Source: https://github.com/tensorflow/tensorflow/issues/48547
        https://engindenizdogu.github.io/harbor/Deep-Learning/Generative-Adversarial-Networks
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf

LATENT = 4
gen = tf.keras.Sequential([tf.keras.Input((LATENT,)), tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(2)])
disc = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(1)])
bce = tf.keras.losses.BinaryCrossentropy(from_logits=True)
g_opt = tf.keras.optimizers.Adam(1e-3)
d_opt = tf.keras.optimizers.Adam(1e-3)


def train_step(real):
    noise = tf.random.normal([tf.shape(real)[0], LATENT])
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
        fake = gen(noise, training=True)
        real_out = disc(real, training=True)
        fake_out = disc(fake, training=True)
        g_loss = bce(tf.ones_like(fake_out), fake_out)
        d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
    g_grads = g_tape.gradient(g_loss, gen.trainable_variables)
    d_grads = d_tape.gradient(d_loss, disc.trainable_variables)
    g_opt.apply_gradients(zip(g_grads, gen.trainable_variables))
    d_opt.apply_gradients(zip(d_grads, disc.trainable_variables))
    return g_grads, d_grads


tf.random.set_seed(3)
g_grads, d_grads = train_step(tf.random.normal([8, 2]) + 2.0)
assert all(g is not None for g in g_grads) and all(g is not None for g in d_grads)
assert float(tf.reduce_sum(tf.abs(g_grads[0]))) > 0
