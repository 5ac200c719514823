"""A tf_keras transformer-style block stops the gradient of its LayerNormalization output before the residual sum: gamma and beta never receive a gradient.

Source: https://github.com/bourdakos1/capsule-networks/issues/9
Label: buggy
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

import numpy as np
import tensorflow as tf
import tf_keras


class FeedForwardBlock(tf_keras.layers.Layer):
    def __init__(self, width, **kwargs):
        super().__init__(**kwargs)
        self.norm = tf_keras.layers.LayerNormalization()
        self.inner = tf_keras.layers.Dense(width * 2, activation="gelu")
        self.outer = tf_keras.layers.Dense(width)

    def call(self, x, training=None):
        normed = tf.stop_gradient(self.norm(x))  # BUG
        return x + self.outer(self.inner(normed))


class Encoder(tf_keras.Model):
    def __init__(self):
        super().__init__()
        self.embed = tf_keras.layers.Dense(6)
        self.block = FeedForwardBlock(6)
        self.head = tf_keras.layers.Dense(1)

    def call(self, x, training=None):
        return self.head(self.block(self.embed(x), training=training))


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    tf.random.set_seed(3)
    x = np.random.rand(8, 4).astype("float32")
    y = np.random.rand(8, 1).astype("float32")
    model = Encoder()
    model.compile(optimizer=tf_keras.optimizers.SGD(0.1), loss="mse")
    model(x[:1])
    gamma_before = model.block.norm.gamma.numpy().copy()
    inner_before = model.block.inner.kernel.numpy().copy()
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert not np.allclose(inner_before, model.block.inner.kernel.numpy())
    assert np.array_equal(gamma_before, model.block.norm.gamma.numpy()), "norm weights frozen by stop_gradient"
