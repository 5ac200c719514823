"""A fine-tuning script collects the variables to train before the new head has ever been called: the head is unbuilt, contributes an empty list, and never trains.

Source: https://github.com/tensorflow/tensorflow/issues/26948
        https://github.com/tensorflow/tensorflow/issues/29073
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


def make_backbone():
    inputs = tf.keras.Input(shape=(6,))
    x = tf.keras.layers.Dense(8, activation="relu")(inputs)
    return tf.keras.Model(inputs, x)


backbone = make_backbone()
head = tf.keras.layers.Dense(2)
train_vars = backbone.trainable_variables + head.trainable_variables  # BUG
optimizer = tf.keras.optimizers.SGD(0.1)
loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, head(backbone(x)))
    grads = tape.gradient(loss, train_vars)
    optimizer.apply_gradients(zip(grads, train_vars))
    return loss


if __name__ == "__main__":
    tf.random.set_seed(0)
    x = np.random.rand(16, 6).astype("float32")
    y = np.random.randint(0, 2, 16)
    train_step(x, y)
    head_before = [w.copy() for w in head.get_weights()]
    for _ in range(2):
        train_step(x, y)
    assert len(train_vars) == 2, "only the backbone's kernel and bias were collected"
    assert all(np.array_equal(a, b) for a, b in zip(head_before, head.get_weights()))
