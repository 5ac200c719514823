"""A crowd-counting head casts its prediction to an integer count before the loss: the int cast has no gradient, so the weights get None.

Source: https://github.com/keras-team/keras/issues/11157
        https://github.com/tensorflow/tensorflow/issues/15278
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf


class Counter(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.features = tf.keras.layers.Dense(8, activation="relu")
        self.density = tf.keras.layers.Dense(1, activation="softplus")

    def call(self, x):
        count = tf.reduce_sum(self.density(self.features(x)), axis=[1, 2])
        return tf.cast(count, tf.int32)  # BUG


def step(model, opt, patches, true_counts):
    with tf.GradientTape() as tape:
        counts = model(patches)
        loss = tf.reduce_mean(tf.square(tf.cast(counts - true_counts, tf.float32)))
    grads = tape.gradient(loss, model.trainable_variables)
    return grads


tf.random.set_seed(0)
patches = tf.random.normal([4, 10, 3])
true_counts = tf.constant([3, 5, 2, 7])
model = Counter()
grads = step(model, tf.keras.optimizers.SGD(0.01), patches, true_counts)
assert all(g is None for g in grads)
