"""A weighted MAPE written with NumPy is given to compile(loss=...): under fit() the loss sees symbolic tensors and training fails at once.

Source: https://github.com/tensorflow/tensorflow/issues/36596
        https://github.com/tensorflow/tensorflow/issues/50111
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import keras


def weighted_mape(y_true, y_pred):
    denom = np.maximum(np.abs(y_true), 1e-3)  # BUG
    return np.mean(np.abs(y_true - y_pred) / denom)  # BUG


keras.utils.set_random_seed(0)
x = np.random.rand(32, 4).astype("float32")
y = (x.sum(axis=1, keepdims=True) + 1.0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss=weighted_mape)
try:
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
except NotImplementedError as err:
    assert "numpy" in str(err).lower()
else:
    raise AssertionError("fit should fail on a NumPy loss")
