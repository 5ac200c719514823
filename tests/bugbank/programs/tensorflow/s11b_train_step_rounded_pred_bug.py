"""A binary classifier overrides train_step and rounds the predicted probabilities to 0/1 before the loss "so they look like the labels"; tf.round has no gradient, so fit() gets a None gradient for every weight and nothing trains.

Source: https://theneuralbase.com/keras/learn/intermediate/when-to-override-train-step/
        https://kader-xai.github.io/mini-courses/tensorflow/day04.html
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class BinaryNet(keras.Model):
    def __init__(self):
        super().__init__()
        self.h = keras.layers.Dense(8, activation="relu")
        self.o = keras.layers.Dense(1, activation="sigmoid")
        self.bce = keras.losses.BinaryCrossentropy()
        self.last_grads = None

    def call(self, x, training=False):
        return self.o(self.h(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            probs = self(x, training=True)
            hard = tf.round(probs)  # BUG
            loss = self.bce(y, hard)
        grads = tape.gradient(loss, self.trainable_variables)
        self.last_grads = grads
        return {"loss": loss}


if __name__ == "__main__":
    tf.random.set_seed(8)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = rng.integers(0, 2, size=(16, 1)).astype("float32")
    model = BinaryNet()
    model(x)
    model.compile(optimizer="sgd", run_eagerly=True)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert model.last_grads is not None
    assert all(g is None for g in model.last_grads), "round() cut every weight off the loss"
