"""Raw-TF regression keeps its weights in a dict and updates them in place with assign_sub; a non-trainable step counter sits beside them: every step gets gradients.

Source: https://github.com/tensorflow/tensorflow/issues/22378
Label: clean
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


steps = tf.Variable(0, trainable=False, dtype=tf.int64)


@tf.function
def mse(params, x, y):
    pred = tf.matmul(x, params["w"]) + params["b"]
    return tf.reduce_mean(tf.square(pred - y))


def sgd_step(params, x, y, lr=0.1):
    with tf.GradientTape() as tape:
        loss = mse(params, x, y)
    grads = tape.gradient(loss, params)
    for key in params:
        params[key].assign_sub(lr * grads[key])
    steps.assign_add(1)
    return loss, grads


tf.random.set_seed(0)
x = tf.random.normal([16, 3])
y = tf.matmul(x, tf.constant([[1.0], [-2.0], [0.5]])) + 0.3
params = init_params(3)
_, first = sgd_step(params, x, y)
_, second = sgd_step(params, x, y)
assert all(g is not None for g in second.values())
assert float(tf.reduce_sum(tf.abs(second["w"]))) > 0
assert int(steps.numpy()) == 2
