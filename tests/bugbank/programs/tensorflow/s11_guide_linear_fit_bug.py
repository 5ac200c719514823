"""A guide-style linear model keeps w and b as raw tf.Variable attributes of a keras.Model built by a factory; Keras 3 does not track them, so compile()/fit() has no trainable weights and w, b never move.

Source: https://github.com/tensorflow/tensorflow/issues/97599
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

import numpy as np
import tensorflow as tf


class LinearFit(tf.keras.Model):
    def __init__(self, w0=5.0, b0=0.0, **kwargs):
        super().__init__(**kwargs)
        self.w = tf.Variable(w0)  # BUG
        self.b = tf.Variable(b0)  # BUG

    def call(self, x):
        return self.w * x + self.b


def make_model(lr=0.1):
    model = LinearFit()
    model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=lr),
                  loss=tf.keras.losses.MeanSquaredError())
    return model


def noisy_line(n=64, seed=0):
    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(n, 1)).astype("float32")
    ys = 3.0 * xs + 2.0 + 0.1 * rng.normal(size=(n, 1)).astype("float32")
    return xs, ys


if __name__ == "__main__":
    tf.random.set_seed(0)
    xs, ys = noisy_line()
    model = make_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(xs, ys, epochs=3, batch_size=16, verbose=0)
    assert len(model.trainable_variables) == 0, "Keras 3 does not track raw tf.Variable attributes"
    assert float(model.w.numpy()) == 5.0 and float(model.b.numpy()) == 0.0, "w and b never move"
