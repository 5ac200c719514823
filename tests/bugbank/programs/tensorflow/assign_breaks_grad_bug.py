"""An HMC log-posterior copies the proposed state into the model with Variable.assign() before evaluating: assign is not differentiable, so the gradient with respect to the state is None.

Source: https://github.com/tensorflow/tensorflow/issues/54532
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf


class LinearModel(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(0.0)

    def __call__(self, x):
        return self.w * x


model = LinearModel()
x_obs = tf.constant([1.0, 2.0, 3.0])
y_obs = tf.constant([2.1, 3.9, 6.2])


def log_posterior(state):
    model.w.assign(state)  # BUG
    resid = y_obs - model(x_obs)
    return -0.5 * tf.reduce_sum(resid ** 2) - 0.5 * model.w ** 2


state = tf.constant(1.5)
with tf.GradientTape() as tape:
    tape.watch(state)
    lp = log_posterior(state)
grad = tape.gradient(lp, state)
assert grad is None, grad
