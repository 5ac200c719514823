"""A tf.data pipeline normalises features with an adapted Normalization layer and a NumPy clipping step in its map function; the trainable projection is part of the model called inside the tape, so every weight trains.

Source: https://github.com/huggingface/transformers/issues/8456
        https://github.com/keras-team/keras/issues/15219
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers


def clip_outliers(batch):
    return np.clip(batch, -3.0, 3.0).astype("float32")


def make_dataset(x, y, norm, batch=8):
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    ds = ds.map(lambda xb, yb: (norm(xb), yb))
    ds = ds.map(lambda xb, yb: (tf.numpy_function(clip_outliers, [xb], tf.float32), yb))
    return ds.map(lambda xb, yb: (tf.ensure_shape(xb, [None, 3]), yb))


model = tf.keras.Sequential([tf.keras.Input((3,)), layers.Dense(6, activation="relu"), layers.Dense(1)])


def train(ds, epochs=1):
    opt = tf.keras.optimizers.Adam(1e-2)
    for _ in range(epochs):
        for feats, target in ds:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(feats, training=True) - target))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
    return grads


rng = np.random.default_rng(10)
x = (5.0 * rng.normal(size=(32, 3)) + 2.0).astype("float32")
y = rng.normal(size=(32, 1)).astype("float32")
norm = layers.Normalization()
norm.adapt(x)
start = model.layers[0].kernel.numpy().copy()
grads = train(make_dataset(x, y, norm))
assert all(g is not None for g in grads)
assert np.abs(model.layers[0].kernel.numpy() - start).sum() > 0
