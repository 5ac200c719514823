"""A custom loop under the mixed_float16 policy wraps Adam in Keras 3's LossScaleOptimizer, computes the loss in float32 inside the tape, scales it with scale_loss() and applies the scaled gradients (the optimizer unscales them): the model trains.

Source: https://keras.io/api/optimizers/loss_scale_optimizer
Label: clean
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
    logits = keras.layers.Dense(n_out)(h)
    outputs = keras.layers.Activation("linear", dtype="float32")(logits)
    return keras.Model(inputs, outputs)


def train_step(model, opt, x, y):
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
        loss = tf.reduce_mean(tf.square(tf.cast(pred, tf.float32) - y))
        scaled = opt.scale_loss(loss)
    grads = tape.gradient(scaled, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return loss


if __name__ == "__main__":
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(5)
        rng = np.random.default_rng(5)
        x = rng.normal(size=(16, 4)).astype("float32")
        y = rng.normal(size=(16, 2)).astype("float32")
        model = build(4, 2)
        opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-2))
        before = model.layers[1].kernel.numpy().copy()
        for _ in range(2):
            train_step(model, opt, x, y)
        assert not np.allclose(before, model.layers[1].kernel.numpy())
    finally:
        keras.mixed_precision.set_global_policy("float32")
