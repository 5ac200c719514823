"""A distribution-matching loss collects per-sample losses with float(), then re-wraps the NumPy result with tf.convert_to_tensor: the gradient is None.

Source: https://github.com/tensorflow/tensorflow/issues/30190
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf

loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def spread_loss(model, x, y):
    logits = model(x)
    losses = []
    for i in range(y.shape[0]):
        losses.append(float(loss_object(y[i:i + 1], logits[i:i + 1])))  # BUG
    dist = np.std(losses) + np.mean(losses)
    return tf.convert_to_tensor(dist, dtype=tf.float32)  # BUG


def grad(model, x, y):
    with tf.GradientTape() as tape:
        loss_value = spread_loss(model, x, y)
    return loss_value, tape.gradient(loss_value, model.trainable_variables)


if __name__ == "__main__":
    tf.random.set_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(8, activation="relu"),
                                 tf.keras.layers.Dense(3)])
    x = tf.random.normal([6, 4])
    y = tf.constant([0, 1, 2, 0, 1, 2])
    loss_value, grads = grad(model, x, y)
    assert loss_value.dtype == tf.float32
    assert all(g is None for g in grads)
