"""An ordinal classifier's loss compares the argmax class index to the label: argmax has no gradient, so the training loop gets None everywhere.

Source: https://github.com/keras-team/keras/issues/11157
        https://github.com/Mainak431/List-of-Differentiable--OPs-and-Non-differentiable-OPs--in-Tensorflow/issues/4
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import keras


def ordinal_distance(labels, logits):
    predicted = tf.argmax(logits, axis=-1)  # BUG
    return tf.reduce_mean(tf.abs(tf.cast(predicted, tf.float32) - tf.cast(labels, tf.float32)))


model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])

tf.random.set_seed(0)
x = tf.random.normal([16, 5])
labels = tf.random.uniform([16], 0, 4, dtype=tf.int64)
with tf.GradientTape() as tape:
    loss = ordinal_distance(labels, model(x))
grads = tape.gradient(loss, model.trainable_variables)
assert all(g is None for g in grads)
