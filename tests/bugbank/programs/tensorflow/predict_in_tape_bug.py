"""A custom regression loop calls model.predict() inside the tape: predict returns a NumPy array, so the loss has no path to the weights.

Source: https://github.com/tensorflow/tensorflow/issues/20630
        https://github.com/SciSharp/TensorFlow.NET/issues/1197
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
from tensorflow import keras


class Line(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)


tf.random.set_seed(0)
x = tf.random.normal([20, 2])
y = 3.0 * x + 2.0
model = Line()
model(x[:1])
with tf.GradientTape() as tape:
    error = model.predict(x, verbose=0) - y  # BUG
    loss = tf.reduce_mean(tf.square(error))
grads = tape.gradient(loss, model.trainable_variables)
assert all(g is None for g in grads)
