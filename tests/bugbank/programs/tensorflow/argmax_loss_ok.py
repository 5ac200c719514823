"""The ordinal classifier's loss is the expected distance under the softmax; argmax is used only for the accuracy it reports: the gradient arrives.

Source: https://github.com/keras-team/keras/issues/11157
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import keras


def ordinal_distance(labels, logits):
    probs = tf.nn.softmax(logits)
    classes = tf.range(tf.shape(logits)[-1], dtype=tf.float32)
    expected = tf.reduce_sum(probs * classes, axis=-1)
    return tf.reduce_mean(tf.abs(expected - tf.cast(labels, tf.float32)))


def accuracy(labels, logits):
    return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32))


model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])

tf.random.set_seed(0)
x = tf.random.normal([16, 5])
labels = tf.random.uniform([16], 0, 4, dtype=tf.int64)
with tf.GradientTape() as tape:
    logits = model(x)
    loss = ordinal_distance(labels, logits)
    acc = accuracy(labels, logits)
grads = tape.gradient(loss, model.trainable_variables)
assert 0.0 <= float(acc) <= 1.0
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[-2]))) > 0
