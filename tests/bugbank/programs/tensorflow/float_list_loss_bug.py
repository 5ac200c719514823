"""A distribution-matching loss collects per-sample losses with float() into a Python list and rebuilds a tensor from it: float() leaves the tape, so every gradient is None.

Source: https://github.com/tensorflow/tensorflow/issues/30190
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf

cce = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def spread_loss(model, features, labels):
    logits = model(features)
    per_sample = []
    for i in range(features.shape[0]):
        per_sample.append(float(cce(labels[i:i + 1], logits[i:i + 1])))  # BUG
    values = tf.convert_to_tensor(per_sample, dtype=tf.float32)
    return tf.math.reduce_std(values) + tf.reduce_mean(values)


def grad(model, features, labels):
    with tf.GradientTape() as tape:
        loss_value = spread_loss(model, features, labels)
    return loss_value, tape.gradient(loss_value, model.trainable_variables)


tf.random.set_seed(0)
model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(3)])
features = tf.random.normal([6, 4])
labels = tf.constant([0, 1, 2, 0, 1, 2])
_, grads = grad(model, features, labels)
assert all(g is None for g in grads), grads
