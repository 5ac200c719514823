"""The same guide-style linear model made with add_weight (tracked by Keras 3), plus a raw non-trainable tf.Variable that only counts calls; fit() trains w and b.

Source: https://github.com/tensorflow/tensorflow/issues/97599
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


class LinearFit(tf.keras.Model):
    def __init__(self, w0=5.0, b0=0.0, **kwargs):
        super().__init__(**kwargs)
        self.w = self.add_weight(shape=(), initializer=tf.keras.initializers.Constant(w0), name="w")
        self.b = self.add_weight(shape=(), initializer=tf.keras.initializers.Constant(b0), name="b")
        # bookkeeping only: never meant to be trained
        self.calls = tf.Variable(0, trainable=False, dtype=tf.int64)

    def call(self, x):
        self.calls.assign_add(1)
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
    model.fit(xs, ys, epochs=3, batch_size=16, verbose=0)
    assert len(model.trainable_variables) == 2
    assert abs(float(model.w.numpy()) - 5.0) > 1e-3, "w trains"
    assert abs(float(model.b.numpy())) > 1e-3, "b trains"
