"""A Keras VAE keeps its KL weight in a non-trainable tf.Variable read by train_step; a callback raises it each epoch with assign(). The weight is a schedule, not a parameter, and the encoder and decoder both train under fit().

Source: https://github.com/keras-team/keras/issues/13826
        https://github.com/alexeyev/Keras-Generating-Sentences-from-a-Continuous-Space/issues/1
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class TinyVAE(keras.Model):
    def __init__(self, dim=6, latent=2):
        super().__init__()
        self.enc = keras.layers.Dense(2 * latent)
        self.dec = keras.layers.Dense(dim)
        self.latent = latent
        self.kl_weight = tf.Variable(0.0, trainable=False, dtype=tf.float32)
        self.total = keras.metrics.Mean(name="loss")

    def call(self, x):
        mean, log_var = tf.split(self.enc(x), 2, axis=-1)
        return self.dec(mean)

    def train_step(self, x):
        with tf.GradientTape() as tape:
            mean, log_var = tf.split(self.enc(x), 2, axis=-1)
            eps = tf.random.normal(tf.shape(mean))
            z = mean + tf.exp(0.5 * log_var) * eps
            rec = tf.reduce_mean(tf.reduce_sum(tf.square(self.dec(z) - x), axis=-1))
            kl = -0.5 * tf.reduce_mean(tf.reduce_sum(1 + log_var - tf.square(mean) - tf.exp(log_var), axis=-1))
            loss = rec + self.kl_weight * kl
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total.update_state(loss)
        return {"loss": self.total.result(), "beta": self.kl_weight}


class KLWarmUp(keras.callbacks.Callback):
    def __init__(self, epochs_to_full):
        super().__init__()
        self.epochs_to_full = epochs_to_full

    def on_epoch_begin(self, epoch, logs=None):
        self.model.kl_weight.assign(min(1.0, (epoch + 1) / self.epochs_to_full))


if __name__ == "__main__":
    keras.utils.set_random_seed(11)
    x = np.random.default_rng(11).normal(size=(32, 6)).astype("float32")
    vae = TinyVAE()
    vae(x[:1])
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    enc0, dec0 = vae.enc.kernel.numpy().copy(), vae.dec.kernel.numpy().copy()
    hist = vae.fit(x, epochs=2, batch_size=16, verbose=0, callbacks=[KLWarmUp(4)])
    assert abs(float(vae.kl_weight.numpy()) - 0.5) < 1e-6
    assert not np.allclose(enc0, vae.enc.kernel.numpy())
    assert not np.allclose(dec0, vae.dec.kernel.numpy())
