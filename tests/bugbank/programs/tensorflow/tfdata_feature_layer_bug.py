"""A trainable feature projection is applied in the tf.data map function, so it runs outside the tape; its weights are listed for the optimizer but their gradients are None and they never move.

Source: https://github.com/huggingface/transformers/issues/8456
        https://github.com/tensorflow/tensorflow/issues/48547
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers

project = layers.Dense(6, activation="relu", name="project")
head = tf.keras.Sequential([tf.keras.Input((6,)), layers.Dense(1)])
project.build((None, 3))


def make_dataset(x, y, batch=8):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    return ds.map(lambda xb, yb: (project(xb), yb))  # BUG


def train(ds, epochs=1):
    opt = tf.keras.optimizers.Adam(1e-2)
    weights = project.trainable_variables + head.trainable_variables
    for _ in range(epochs):
        for feats, target in ds:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(head(feats, training=True) - target))
            grads = tape.gradient(loss, weights)
            opt.apply_gradients([(g, w) for g, w in zip(grads, weights) if g is not None])
    return grads


rng = np.random.default_rng(10)
x = rng.normal(size=(32, 3)).astype("float32")
y = rng.normal(size=(32, 1)).astype("float32")
start = project.kernel.numpy().copy()
grads = train(make_dataset(x, y))
assert grads[0] is None and grads[1] is None
assert np.array_equal(project.kernel.numpy(), start)
