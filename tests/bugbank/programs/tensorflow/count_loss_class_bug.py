"""A keras.losses.Loss subclass scores a binary classifier by the share of rounded predictions that match the labels: tf.round has no gradient, so fit() stops with "No gradients provided".

Source: https://github.com/tensorflow/tensorflow/issues/58614
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class MismatchRate(keras.losses.Loss):
    def __init__(self, name="mismatch_rate"):
        super().__init__(name=name)

    def call(self, y_true, y_pred):
        decided = tf.round(y_pred)  # BUG
        wrong = tf.abs(decided - tf.cast(y_true, decided.dtype))
        return tf.reduce_mean(wrong, axis=-1)


def build():
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(1, activation="sigmoid")])


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model = build()
    model.compile(optimizer="adam", loss=MismatchRate())
    try:
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    except ValueError as err:
        assert "gradient" in str(err).lower(), err
    else:
        raise AssertionError("fit trained through a rounded loss")
