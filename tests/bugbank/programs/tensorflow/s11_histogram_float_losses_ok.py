"""The same Iris-tutorial-style loop keeps each per-sample loss as a tensor in the list and only logs float(...) copies of them: the spread loss is differentiable and the model gets gradients.

Source: https://github.com/tensorflow/tensorflow/issues/30190
Label: clean
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
logged = []


def spread_of_losses(values):
    values = tf.stack(values)
    return tf.math.reduce_std(values) + tf.reduce_mean(values)


def loss(model, x, y):
    y_ = model(x)
    per_sample = []
    for i in range(y.shape[0]):
        value = loss_object(y_true=y[i:i + 1], y_pred=y_[i:i + 1])
        per_sample.append(value)
        logged.append(float(value))
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
    assert len(logged) == 6
    assert all(g is not None for g in grads)
    assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0.0
