"""A saliency map takes the gradient of a class score with respect to an input tensor that the tape explicitly watches: the gradient arrives.

Source: https://github.com/tensorflow/tensorflow/issues/40652
        https://github.com/tensorflow/tensorflow/issues/29942
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import keras

keras.utils.set_random_seed(0)
classifier = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])


def saliency(x, cls):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = classifier(x)[:, cls]
    return tf.abs(tape.gradient(score, x))


sal = saliency(tf.random.normal([2, 8]), 1)
assert sal is not None and sal.shape == (2, 8)
assert float(tf.reduce_sum(sal)) > 0
