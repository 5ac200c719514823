"""A GAN ported from the compile-a-combined-model recipe to a GradientTape loop keeps `discriminator.trainable = False`: discriminator.trainable_variables is empty, so the discriminator step applies nothing and the critic never learns.

Source: https://github.com/eriklindernoren/Keras-GAN/issues/164
        https://github.com/0b01/SimGAN-Captcha/issues/1
        https://github.com/bendangnuksung/Image-OutPainting/issues/14
Label: buggy
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import tf_keras as keras

LATENT = 4

generator = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(LATENT,)), keras.layers.Dense(2)])
discriminator = keras.Sequential([keras.layers.Dense(8, activation="relu", input_shape=(2,)), keras.layers.Dense(1)])
# freeze the critic while the generator learns (from the combined-model recipe)
discriminator.trainable = False  # BUG

g_opt = keras.optimizers.Adam(1e-2)
d_opt = keras.optimizers.Adam(1e-2)
bce = keras.losses.BinaryCrossentropy(from_logits=True)


def train_step(real):
    noise = tf.random.normal([real.shape[0], LATENT])
    with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
        fake = generator(noise, training=True)
        real_logits = discriminator(real, training=True)
        fake_logits = discriminator(fake, training=True)
        g_loss = bce(tf.ones_like(fake_logits), fake_logits)
        d_loss = bce(tf.ones_like(real_logits), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits)
    g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
    g_opt.apply_gradients(zip(g_grads, generator.trainable_variables))
    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)  # BUG
    d_opt.apply_gradients(zip(d_grads, discriminator.trainable_variables))
    return d_grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    data = np.random.normal(3.0, 0.5, size=(16, 2)).astype("float32")
    before = [w.copy() for w in discriminator.get_weights()]
    g_before = [w.copy() for w in generator.get_weights()]
    for _ in range(2):
        d_grads = train_step(tf.constant(data))
    assert d_grads == [], "the frozen critic has no trainable variables"
    assert all(np.array_equal(a, b) for a, b in zip(before, discriminator.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(g_before, generator.get_weights()))
