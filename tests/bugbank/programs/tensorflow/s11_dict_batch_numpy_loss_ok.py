"""The same dict-based custom loop scores the batch with TensorFlow ops inside the tape and only converts to NumPy after it, for a logged running error and an accuracy-style metric.

Source: https://github.com/tensorflow/tensorflow/issues/36596
        https://github.com/tensorflow/tensorflow/issues/50111
Label: clean
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
history = {"loss": [], "within_half": []}


def forward(batch):
    return {"pred": net(batch["x"], training=True)}


def weighted_error(batch, outputs):
    err = tf.square(outputs["pred"] - batch["y"])
    return tf.reduce_mean(err * batch["w"])


def run_step(batch):
    with tf.GradientTape() as tape:
        outputs = forward(batch)
        loss = weighted_error(batch, outputs)
    grads = tape.gradient(loss, net.trainable_variables)
    opt.apply_gradients(zip(grads, net.trainable_variables))
    # logging only, after the tape
    pred = outputs["pred"].numpy()
    history["loss"].append(float(loss.numpy()))
    history["within_half"].append(float(np.mean(np.abs(pred - batch["y"]) < 0.5)))
    return loss, grads


rng = np.random.default_rng(0)
batch = {
    "x": rng.normal(size=(16, 6)).astype("float32"),
    "y": rng.normal(size=(16, 1)).astype("float32"),
    "w": rng.uniform(0.5, 1.5, size=(16, 1)).astype("float32"),
}
loss, grads = run_step(batch)
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0.0
