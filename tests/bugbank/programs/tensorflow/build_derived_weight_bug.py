"""A NoisyNet dense layer computes kernel = mu + sigma * eps once in build(): the kernel is a constant tensor afterwards, so mu and sigma get None gradients.

Source: https://github.com/tensorflow/tensorflow/issues/32729
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import keras


class NoisyDense(keras.layers.Layer):
    def __init__(self, units, sigma0=0.5):
        super().__init__()
        self.units = units
        self.sigma0 = sigma0

    def build(self, input_shape):
        n_in = input_shape[-1]
        self.w_mu = self.add_weight(shape=(n_in, self.units), initializer="glorot_uniform", name="w_mu")
        self.w_sigma = self.add_weight(shape=(n_in, self.units),
                                       initializer=keras.initializers.Constant(self.sigma0 / n_in ** 0.5),
                                       name="w_sigma")
        eps = tf.random.normal((n_in, self.units))
        self.kernel = self.w_mu + self.w_sigma * eps  # BUG

    def call(self, x):
        return x @ self.kernel


tf.random.set_seed(0)
layer = NoisyDense(2)
x = tf.random.normal([8, 4])
layer(x)
with tf.GradientTape() as tape:
    q = layer(x)
    loss = tf.reduce_mean(tf.square(q - 1.0))
g_mu, g_sigma = tape.gradient(loss, [layer.w_mu, layer.w_sigma])
assert g_mu is None and g_sigma is None
