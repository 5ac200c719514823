"""A count regressor compiled with a custom loss that rounds the prediction: tf.round has no gradient, so fit() stops with "No gradients provided".

Source: https://github.com/keras-team/keras/issues/11157
        https://github.com/tensorflow/tensorflow/issues/46956
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


def rounded_mae(y_true, y_pred):
    return tf.reduce_mean(tf.abs(y_true - tf.round(y_pred)))  # BUG


def build():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss=rounded_mae)
    return model


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 3).astype("float32")
    y = np.random.randint(0, 5, (32, 1)).astype("float32")
    model = build()
    try:
        model.fit(x, y, epochs=1, verbose=0)
    except ValueError as err:
        assert "No gradients provided" in str(err)
    else:
        raise AssertionError("fit should fail: the rounded loss has no gradient")
