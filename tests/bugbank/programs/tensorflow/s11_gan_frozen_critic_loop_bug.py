"""A GAN class freezes its discriminator (trainable = False) while wiring the combined generator model, as the classic Keras recipe does, then trains both with hand-written tapes: discriminator.trainable_variables is empty, so the discriminator never learns.

Source: https://github.com/eriklindernoren/Keras-GAN/issues/232
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras

LATENT = 3


class SimpleGAN:
    def __init__(self):
        self.generator = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
        self.discriminator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
        self.discriminator.trainable = False  # BUG
        z = keras.Input((LATENT,))
        self.combined = keras.Model(z, self.discriminator(self.generator(z)))
        self.g_opt = keras.optimizers.Adam(1e-3)
        self.d_opt = keras.optimizers.Adam(1e-3)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def critic_step(self, real):
        noise = tf.random.normal((real.shape[0], LATENT))
        fake = self.generator(noise)
        with tf.GradientTape() as tape:
            real_score = self.discriminator(real, training=True)
            fake_score = self.discriminator(fake, training=True)
            loss = self.bce(tf.ones_like(real_score), real_score) + self.bce(tf.zeros_like(fake_score), fake_score)
        grads = tape.gradient(loss, self.discriminator.trainable_variables)  # BUG
        self.d_opt.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        return grads

    def generator_step(self, batch_size):
        noise = tf.random.normal((batch_size, LATENT))
        with tf.GradientTape() as tape:
            score = self.combined(noise, training=True)
            loss = self.bce(tf.ones_like(score), score)
        grads = tape.gradient(loss, self.generator.trainable_variables)
        self.g_opt.apply_gradients(zip(grads, self.generator.trainable_variables))


if __name__ == "__main__":
    tf.random.set_seed(0)
    real = tf.constant(np.random.default_rng(0).normal(2.0, 0.5, size=(16, 2)).astype("float32"))
    gan = SimpleGAN()
    before = [w.copy() for w in gan.discriminator.get_weights()]
    assert gan.discriminator.trainable_variables == [], "the frozen discriminator lists no trainable variables"
    try:
        gan.critic_step(real)
        raise AssertionError("apply_gradients should get an empty list")
    except ValueError:
        pass
    after = gan.discriminator.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "the discriminator never moves"
