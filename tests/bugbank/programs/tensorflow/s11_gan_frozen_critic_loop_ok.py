"""A GAN class freezes its discriminator only around the generator step (trainable = False, then back to True) and trains it with its own tape while it is trainable: both networks learn.

Source: https://github.com/eriklindernoren/Keras-GAN/issues/232
Label: clean
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
        grads = tape.gradient(loss, self.discriminator.trainable_variables)
        self.d_opt.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        return grads

    def generator_step(self, batch_size):
        self.discriminator.trainable = False
        noise = tf.random.normal((batch_size, LATENT))
        with tf.GradientTape() as tape:
            score = self.combined(noise, training=True)
            loss = self.bce(tf.ones_like(score), score)
        grads = tape.gradient(loss, self.combined.trainable_variables)
        self.g_opt.apply_gradients(zip(grads, self.combined.trainable_variables))
        self.discriminator.trainable = True
        return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    real = tf.constant(np.random.default_rng(0).normal(2.0, 0.5, size=(16, 2)).astype("float32"))
    gan = SimpleGAN()
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    for _ in range(2):
        d_grads = gan.critic_step(real)
        g_grads = gan.generator_step(16)
    assert len(d_grads) == 4 and all(g is not None for g in d_grads)
    assert len(g_grads) == 4, "only the generator is trained through the combined model"
    d_after = gan.discriminator.get_weights()
    assert not np.array_equal(d_before[0], d_after[0]), "the discriminator learns"
