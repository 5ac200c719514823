"""A training helper records the closure's loss with .numpy() inside the tape and asks the tape for the gradient of the re-wrapped float: every gradient is None.

Source: https://discuss.tensorflow.org/t/where-does-the-tape-break-after-all/20305
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf


def make_objective(weights, bias, features, targets):
    def objective():
        pred = tf.linalg.matvec(features, weights) + bias
        return tf.reduce_mean(tf.square(pred - targets))
    return objective


def fit(objective, variables, steps=2, lr=0.1):
    history = []
    grads = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = objective().numpy()  # BUG
            history.append(float(loss))
        grads = tape.gradient(tf.constant(loss), variables)  # BUG
        for var, g in zip(variables, grads):
            if g is not None:
                var.assign_sub(lr * g)
    return history, grads


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    features = tf.constant(rng.normal(size=(12, 3)), dtype=tf.float32)
    targets = tf.constant(rng.normal(size=(12,)), dtype=tf.float32)
    w = tf.Variable(tf.zeros([3]))
    b = tf.Variable(0.0)
    history, grads = fit(make_objective(w, b, features, targets), [w, b])
    assert all(g is None for g in grads), "the loss was converted to NumPy inside the tape"
    assert float(tf.reduce_sum(tf.abs(w))) == 0.0
