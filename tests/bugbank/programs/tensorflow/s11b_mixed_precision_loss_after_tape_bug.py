"""A mixed-precision training helper runs the forward pass inside the tape but computes the float32 loss and its scaled version after the `with` block ends; the tape never recorded them, so every gradient is None and the model never trains.

Source: https://keras.io/api/optimizers/loss_scale_optimizer
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


def build(n_in, n_out):
    inputs = keras.Input((n_in,))
    h = keras.layers.Dense(16, activation="relu")(inputs)
    out = keras.layers.Dense(n_out, dtype="float32")(h)
    return keras.Model(inputs, out)


def train_step(model, opt, x, y):
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
    loss = tf.reduce_mean(tf.square(tf.cast(pred, tf.float32) - y))  # BUG
    scaled = opt.scale_loss(loss)  # BUG
    grads = tape.gradient(scaled, model.trainable_variables)  # BUG
    return loss, grads


if __name__ == "__main__":
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(7)
        rng = np.random.default_rng(7)
        x = rng.normal(size=(16, 4)).astype("float32")
        y = rng.normal(size=(16, 2)).astype("float32")
        model = build(4, 2)
        opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-2))
        loss, grads = train_step(model, opt, x, y)
        assert all(g is None for g in grads), "the tape recorded no loss"
    finally:
        keras.mixed_precision.set_global_policy("float32")
