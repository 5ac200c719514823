"""A custom loop keeps the batch and the model outputs in dicts and scores them in a helper that computes the weighted error with NumPy and wraps it back with tf.constant: the tape sees a constant, every gradient is None.

Source: https://github.com/tensorflow/tensorflow/issues/36596
        https://github.com/tensorflow/tensorflow/issues/50111
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras

net = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
opt = keras.optimizers.Adam(1e-2)


def forward(batch):
    return {"pred": net(batch["x"], training=True)}


def weighted_error(batch, outputs):
    err = np.square(np.asarray(outputs["pred"]) - batch["y"])  # BUG
    return tf.constant(np.mean(err * batch["w"]), dtype=tf.float32)


def run_step(batch):
    with tf.GradientTape() as tape:
        outputs = forward(batch)
        loss = weighted_error(batch, outputs)
    grads = tape.gradient(loss, net.trainable_variables)
    return loss, grads


rng = np.random.default_rng(0)
batch = {
    "x": rng.normal(size=(16, 6)).astype("float32"),
    "y": rng.normal(size=(16, 1)).astype("float32"),
    "w": rng.uniform(0.5, 1.5, size=(16, 1)).astype("float32"),
}
loss, grads = run_step(batch)
assert float(loss) > 0.0
assert all(g is None for g in grads), "the NumPy detour leaves the tape with no path to the weights"
