"""An Iris-tutorial-style loop computes a per-sample loss in a Python loop, stores each as float(...) in a list and turns the list's spread into the training loss: the float() conversion leaves the tape nothing to differentiate.

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
model = tf.keras.Sequential([
    tf.keras.Input((4,)),
    tf.keras.layers.Dense(10, activation=tf.nn.relu),
    tf.keras.layers.Dense(3),
])


def spread_of_losses(values):
    values = tf.convert_to_tensor(values, dtype=tf.float32)
    return tf.math.reduce_std(values) + tf.reduce_mean(values)


def loss(model, x, y):
    y_ = model(x)
    per_sample = []
    for i in range(y.shape[0]):
        per_sample.append(float(loss_object(y_true=y[i:i + 1], y_pred=y_[i:i + 1])))  # BUG
    return spread_of_losses(per_sample)


def grad(model, inputs, targets):
    with tf.GradientTape() as tape:
        loss_value = loss(model, inputs, targets)
    return loss_value, tape.gradient(loss_value, model.trainable_variables)


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(6, 4)).astype("float32")
    labels = rng.integers(0, 3, size=(6,))
    loss_value, grads = grad(model, features, labels)
    assert float(loss_value) > 0.0
    assert all(g is None for g in grads), "float() cut every per-sample loss off the tape"
