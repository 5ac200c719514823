"""A Keras 3 layer keeps a positive rate as tfp.util.DeferredTensor over a fresh tf.Variable: Keras 3 tracks neither, so fit() never trains the rate.

Source: https://github.com/tensorflow/probability/issues/946
Label: buggy
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import keras


class PoissonHead(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.linear = keras.layers.Dense(1)
        self.base_rate = tfp.util.DeferredTensor(tf.Variable(0.0), tf.math.softplus)  # BUG

    def call(self, x):
        return tf.math.softplus(self.linear(x)) + tf.convert_to_tensor(self.base_rate)


def poisson_nll(y_true, rate):
    return tf.reduce_mean(rate - y_true * tf.math.log(rate))


keras.utils.set_random_seed(0)
x = np.random.rand(48, 3).astype("float32")
y = np.random.poisson(4.0, size=(48, 1)).astype("float32")
inputs = keras.Input((3,))
head = PoissonHead(name="head")
model = keras.Model(inputs, head(inputs))
model.compile(optimizer=keras.optimizers.SGD(0.05), loss=poisson_nll)
before = float(tf.convert_to_tensor(head.base_rate))
model.fit(x, y, epochs=2, batch_size=16, verbose=0)
assert len(model.trainable_variables) == 2
assert float(tf.convert_to_tensor(head.base_rate)) == before, "the base rate never moves"
