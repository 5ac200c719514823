"""A from-scratch logistic regression keeps its weights as tf.random.normal tensors, not tf.Variables: the tape never watches them and the gradient is None.

Source: https://github.com/fchollet/deep-learning-with-python-notebooks/pull/284
        https://github.com/tensorflow/tensorflow/issues/56968
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf

tf.random.set_seed(0)
W = tf.random.normal([3, 1], stddev=0.1)  # BUG
b = tf.zeros([1])  # BUG


def forward(x):
    return tf.sigmoid(x @ W + b)


def step(x, y, lr=0.5):
    with tf.GradientTape() as tape:
        p = forward(x)
        loss = -tf.reduce_mean(y * tf.math.log(p + 1e-7) + (1 - y) * tf.math.log(1 - p + 1e-7))
    return tape.gradient(loss, [W, b])


x = tf.random.normal([16, 3])
y = tf.cast(x[:, :1] > 0, tf.float32)
gW, gb = step(x, y)
assert gW is None and gb is None
