"""A Keras 3 GAN overrides train_step: the discriminator step stops the gradient into its fakes, and the generator step draws fresh fakes without stop_gradient, so both networks get gradients.

Source: https://github.com/keras-team/keras-core/issues/318
        https://github.com/NVlabs/stylegan2-ada-pytorch/pull/185
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["KERAS_BACKEND"] = "tensorflow"

import keras
from keras import layers
import tensorflow as tf


class TinyGAN(keras.Model):
    def __init__(self, latent=4, dim=2):
        super().__init__()
        self.latent = latent
        self.generator = keras.Sequential([keras.Input((latent,)), layers.Dense(8, activation="relu"), layers.Dense(dim)])
        self.critic = keras.Sequential([keras.Input((dim,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def compile(self, g_opt, d_opt):
        super().compile()
        self.g_opt = g_opt
        self.d_opt = d_opt

    def _fakes(self, n):
        z = tf.random.normal([n, self.latent])
        return self.generator(z, training=True)

    def train_step(self, real):
        n = tf.shape(real)[0]
        with tf.GradientTape() as d_tape:
            fake = tf.stop_gradient(self._fakes(n))
            real_logits = self.critic(real, training=True)
            fake_logits = self.critic(fake, training=True)
            d_loss = self.bce(tf.ones_like(real_logits), real_logits) + self.bce(tf.zeros_like(fake_logits), fake_logits)
        d_grads = d_tape.gradient(d_loss, self.critic.trainable_variables)
        self.d_opt.apply_gradients(zip(d_grads, self.critic.trainable_variables))

        with tf.GradientTape() as g_tape:
            fooled = self.critic(self._fakes(n), training=True)
            g_loss = self.bce(tf.ones_like(fooled), fooled)
        g_grads = g_tape.gradient(g_loss, self.generator.trainable_variables)
        self.g_opt.apply_gradients(zip(g_grads, self.generator.trainable_variables))
        self.last_g_grads = g_grads
        return {"d_loss": d_loss, "g_loss": g_loss}


tf.random.set_seed(0)
gan = TinyGAN()
gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
gan.train_step(tf.random.normal([16, 2]) + 3.0)
assert all(g is not None for g in gan.last_g_grads)
assert float(tf.reduce_sum(tf.abs(gan.last_g_grads[0]))) > 0
