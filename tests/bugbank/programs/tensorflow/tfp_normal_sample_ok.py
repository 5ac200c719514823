"""A tiny VAE-style encoder draws its latent with TFP Normal.sample(): TFP's Normal is reparameterized, so the gradient reaches the encoder.

Source: https://github.com/tensorflow/tensorflow/issues/7236
Label: clean
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow import keras

tfd = tfp.distributions

encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6)])
prior = tfd.Normal(loc=tf.zeros(2), scale=tf.ones(2))


def elbo_loss(x):
    stats = encoder(x)
    loc, raw_scale = stats[:, :2], stats[:, 2:]
    posterior = tfd.Normal(loc=loc, scale=tf.nn.softplus(raw_scale) + 1e-3)
    z = posterior.sample()
    recon = decoder(z)
    rec = tf.reduce_mean(tf.reduce_sum(tf.square(recon - x), axis=-1))
    kl = tf.reduce_mean(tf.reduce_sum(tfd.kl_divergence(posterior, prior), axis=-1))
    return rec + kl


tf.random.set_seed(0)
x = tf.random.normal([16, 6])
with tf.GradientTape() as tape:
    loss = elbo_loss(x)
grads = tape.gradient(loss, encoder.trainable_variables)
assert prior.reparameterization_type == tfd.FULLY_REPARAMETERIZED
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
