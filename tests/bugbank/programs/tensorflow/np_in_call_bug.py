"""A custom Keras layer squashes activations with np.tanh in call(); in an eager training loop this leaves the graph, so the layers before it never learn.

Source: https://github.com/tensorflow/tensorflow/issues/50111
        https://github.com/tensorflow/tensorflow/issues/36596
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


class SoftClip(keras.layers.Layer):
    def __init__(self, bound=2.0):
        super().__init__()
        self.bound = bound

    def call(self, x):
        return self.bound * np.tanh(x / self.bound)  # BUG


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.fc1 = keras.layers.Dense(8)
        self.clip = SoftClip()
        self.fc2 = keras.layers.Dense(1)

    def call(self, x):
        return self.fc2(self.clip(self.fc1(x)))


keras.utils.set_random_seed(1)
net = Net()
x = tf.random.normal([16, 3])
y = tf.random.normal([16, 1])
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(net(x) - y))
g = tape.gradient(loss, net.fc1.trainable_variables + net.fc2.trainable_variables)
assert g[0] is None and g[1] is None, "fc1 is cut off by np.tanh"
assert g[2] is not None and float(tf.reduce_sum(tf.abs(g[2]))) > 0
