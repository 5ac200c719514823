"""A residual block stops the gradient of the shortcut's input, not of the projection: the projection still trains.

Source: https://github.com/bourdakos1/capsule-networks/issues/9
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

import numpy as np
import tensorflow as tf
from tensorflow import keras


class ProjectionBlock(keras.layers.Layer):
    def __init__(self, units):
        super().__init__()
        self.fc1 = keras.layers.Dense(units, activation="relu")
        self.fc2 = keras.layers.Dense(units)
        self.shortcut = keras.layers.Dense(units, use_bias=False)

    def call(self, inputs):
        h = self.fc2(self.fc1(inputs))
        skip = self.shortcut(tf.stop_gradient(inputs))
        return tf.nn.relu(h + skip)


class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.block = ProjectionBlock(8)
        self.out = keras.layers.Dense(1)

    def call(self, x):
        return self.out(self.block(self.block_input(x)))

    def block_input(self, x):
        return x * 2.0


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    keras.utils.set_random_seed(1)
    x = np.random.rand(16, 5).astype("float32")
    y = np.random.rand(16, 1).astype("float32")
    model = Net()
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, [model.block.fc1.kernel, model.block.shortcut.kernel])
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)
