"""Raw-TF regression keeps its weights in a dict and updates them with params[k] = params[k] - lr * g: the entries become plain tensors, so from the second step on the tape watches nothing and the gradients are None.

Source: https://github.com/tensorflow/tensorflow/issues/22378
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf


def init_params(n_in):
    return {
        "w": tf.Variable(tf.random.normal([n_in, 1], seed=1), name="w"),
        "b": tf.Variable(tf.zeros([1]), name="b"),
    }


@tf.function
def mse(params, x, y):
    pred = tf.matmul(x, params["w"]) + params["b"]
    return tf.reduce_mean(tf.square(pred - y))


def sgd_step(params, x, y, lr=0.1):
    with tf.GradientTape() as tape:
        loss = mse(params, x, y)
    grads = tape.gradient(loss, params)
    for key in params:
        if grads[key] is not None:
            params[key] = params[key] - lr * grads[key]  # BUG
    return loss, grads


tf.random.set_seed(0)
x = tf.random.normal([16, 3])
y = tf.matmul(x, tf.constant([[1.0], [-2.0], [0.5]])) + 0.3
params = init_params(3)
_, first = sgd_step(params, x, y)
_, second = sgd_step(params, x, y)
assert all(g is not None for g in first.values())
assert all(g is None for g in second.values())
