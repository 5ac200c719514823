"""A residual block stops the gradient of its projection shortcut before the skip sum: the main branch trains, the projection's kernel never moves.

Source: https://github.com/bourdakos1/capsule-networks/issues/9
Label: buggy
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
        skip = tf.stop_gradient(self.shortcut(inputs))  # BUG
        return tf.nn.relu(h + skip)


def build_model():
    inputs = keras.Input(shape=(5,))
    h = ProjectionBlock(8)(inputs)
    outputs = keras.layers.Dense(1)(h)
    return keras.Model(inputs, outputs)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    keras.utils.set_random_seed(1)
    x = np.random.rand(16, 5).astype("float32")
    y = np.random.rand(16, 1).astype("float32")
    model = build_model()
    block = model.layers[1]
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, [block.fc1.kernel, block.shortcut.kernel])
    assert grads[0] is not None and float(tf.reduce_sum(tf.abs(grads[0]))) > 0
    assert grads[1] is None, "the shortcut projection is cut off by stop_gradient"
