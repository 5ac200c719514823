"""A hard feature mask is drawn with tfd.Bernoulli(...).sample() and multiplied into the loss: Bernoulli samples carry no gradient, so the gate network never learns.

Source: https://github.com/tensorflow/tensorflow/issues/9260
        https://github.com/tensorflow/tensorflow/issues/7236
Label: buggy
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import tensorflow_probability as tfp
import keras

tfd = tfp.distributions


class MaskedRegressor(keras.Model):
    def __init__(self):
        super().__init__()
        self.gate = keras.layers.Dense(5)
        self.reg = keras.layers.Dense(1)

    def call(self, x):
        mask = tfd.Bernoulli(logits=self.gate(x)).sample()  # BUG
        return self.reg(x * tf.cast(mask, x.dtype))


tf.random.set_seed(2)
x = tf.random.normal([32, 5])
y = tf.reduce_sum(x[:, :2], axis=-1, keepdims=True)
model = MaskedRegressor()
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(model(x) - y))
g_gate_k, g_gate_b = tape.gradient(loss, model.gate.trainable_variables)
assert g_gate_k is None and g_gate_b is None, "the gate gets no gradient"
