"""A binary-latent autoencoder samples its code from tfd.Bernoulli(logits=encoder(x)) and decodes the sample: Bernoulli samples carry no gradient, so the encoder never trains.

Source: https://github.com/StanfordASL/Trajectron-plus-plus/issues/15
        https://github.com/tensorflow/tensorflow/issues/7236
Label: buggy
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class BinaryAutoencoder(tf.keras.Model):
    def __init__(self, n_bits=6):
        super().__init__()
        self.encoder = tf.keras.layers.Dense(n_bits)
        self.decoder = tf.keras.layers.Dense(10)

    def call(self, x):
        code = tfd.Bernoulli(logits=self.encoder(x), dtype=tf.float32).sample()  # BUG
        return self.decoder(code)


tf.random.set_seed(0)
model = BinaryAutoencoder()
x = tf.random.normal([16, 10])
with tf.GradientTape() as tape:
    recon = model(x)
    loss = tf.reduce_mean(tf.square(recon - x))
grads = tape.gradient(loss, model.encoder.trainable_variables)
assert all(g is None for g in grads), grads
