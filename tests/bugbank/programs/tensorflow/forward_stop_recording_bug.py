"""A regression step wraps the forward pass in tape.stop_recording() (meant to save memory on a logging branch), so the loss is not recorded and every gradient is None; apply_gradients only warns.

Source: https://github.com/fastestimator/fastestimator/pull/1431
        https://github.com/tensorflow/tensorflow/issues/47064
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
from tensorflow import keras


class Regressor(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="relu")
        self.out = keras.layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


def fit_batch(model, opt, x, y):
    with tf.GradientTape() as tape:
        with tape.stop_recording():  # BUG
            pred = model(x, training=True)
            loss = tf.reduce_mean(tf.square(pred - y))
    grads = tape.gradient(loss, model.trainable_variables)
    return grads, loss


tf.random.set_seed(2)
net = Regressor()
net(tf.zeros([1, 3]))
grads, loss = fit_batch(net, keras.optimizers.SGD(0.1), tf.random.normal([6, 3]), tf.random.normal([6, 1]))
assert all(g is None for g in grads)
