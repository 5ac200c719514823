"""A WGAN-GP written as a keras.Model with train_step: several critic steps, each with a gradient penalty from an inner tape that watches the interpolated samples, then one generator step through the critic with its own tape and optimizer. Both networks train.

Source: https://dado330.github.io/AE-WGAN-GP/WGAN_GP.html
        https://hf.global-rail.com/keras-io/WGAN-GP/blame/2c86e3d89387b278b38e2063eab53dd4bc86d678/README.md
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers


def critic_net():
    return keras.Sequential([keras.Input((4,)), layers.Dense(16), layers.LeakyReLU(0.2), layers.Dense(1)])


def generator_net(z_dim):
    return keras.Sequential([keras.Input((z_dim,)), layers.Dense(16, activation="relu"), layers.Dense(4)])


class WGANGP(keras.Model):
    def __init__(self, z_dim=3, d_steps=2, gp_weight=10.0):
        super().__init__()
        self.critic = critic_net()
        self.generator = generator_net(z_dim)
        self.z_dim, self.d_steps, self.gp_weight = z_dim, d_steps, gp_weight

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer

    def gradient_penalty(self, real, fake):
        alpha = tf.random.uniform((tf.shape(real)[0], 1))
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as gp_tape:
            gp_tape.watch(mixed)
            score = self.critic(mixed, training=True)
        g = gp_tape.gradient(score, [mixed])[0]
        norm = tf.sqrt(tf.reduce_sum(tf.square(g), axis=1) + 1e-12)
        return tf.reduce_mean(tf.square(norm - 1.0))

    def train_step(self, real):
        n = tf.shape(real)[0]
        for _ in range(self.d_steps):
            z = tf.random.normal((n, self.z_dim))
            with tf.GradientTape() as tape:
                fake = self.generator(z, training=True)
                d_loss = tf.reduce_mean(self.critic(fake, training=True)) - tf.reduce_mean(self.critic(real, training=True))
                d_loss += self.gp_weight * self.gradient_penalty(real, fake)
            d_grads = tape.gradient(d_loss, self.critic.trainable_variables)
            self.d_optimizer.apply_gradients(zip(d_grads, self.critic.trainable_variables))
        z = tf.random.normal((n, self.z_dim))
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(self.critic(self.generator(z, training=True), training=True))
        g_grads = tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_optimizer.apply_gradients(zip(g_grads, self.generator.trainable_variables))
        return {"d_loss": d_loss, "g_loss": g_loss}


if __name__ == "__main__":
    keras.utils.set_random_seed(12)
    data = np.random.default_rng(12).normal(size=(32, 4)).astype("float32")
    gan = WGANGP()
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3))
    c0 = gan.critic.layers[0].kernel.numpy().copy()
    g0 = gan.generator.layers[0].kernel.numpy().copy()
    gan.fit(data, batch_size=16, epochs=1, verbose=0)
    assert not np.allclose(c0, gan.critic.layers[0].kernel.numpy())
    assert not np.allclose(g0, gan.generator.layers[0].kernel.numpy())
