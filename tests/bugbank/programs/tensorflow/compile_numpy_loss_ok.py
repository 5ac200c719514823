"""The weighted MAPE rewritten with keras.ops and given to compile(loss=...): the NumPy data goes into fit(), the loss stays differentiable and the model trains.

Source: https://github.com/tensorflow/tensorflow/issues/36596
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import keras
from keras import ops


def weighted_mape(y_true, y_pred):
    denom = ops.maximum(ops.abs(y_true), 1e-3)
    return ops.mean(ops.abs(y_true - y_pred) / denom)


keras.utils.set_random_seed(0)
x = np.random.rand(32, 4).astype("float32")
y = (x.sum(axis=1, keepdims=True) + 1.0).astype("float32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer="adam", loss=weighted_mape)
before = model.layers[-1].kernel.numpy().copy()
model.fit(x, y, epochs=1, batch_size=8, verbose=0)
assert not np.allclose(before, model.layers[-1].kernel.numpy())
