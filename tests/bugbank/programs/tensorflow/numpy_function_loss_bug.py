"""A robust loss written in NumPy is wrapped with tf.numpy_function inside the tape: numpy_function has no gradient, so every weight gets None.

Source: https://github.com/tensorflow/tensorflow/issues/47288
        https://github.com/tensorflow/tensorflow/issues/47033
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


def np_huber(err, delta=1.0):
    a = np.abs(err)
    return np.mean(np.where(a < delta, 0.5 * a ** 2, delta * (a - 0.5 * delta))).astype(np.float32)


model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(8, activation="relu"),
                             tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.SGD(0.01)

tf.random.set_seed(0)
x = tf.random.normal([16, 3])
y = tf.random.normal([16, 1])
with tf.GradientTape() as tape:
    pred = model(x, training=True)
    loss = tf.numpy_function(np_huber, [pred - y], tf.float32)  # BUG
grads = tape.gradient(loss, model.trainable_variables)
assert all(g is None for g in grads), grads
