"""A regression step records the forward pass and uses tape.stop_recording() only around a monitoring statistic (the prediction spread), so the loss's gradient reaches every weight.

Source: https://github.com/fastestimator/fastestimator/pull/1431
        https://github.com/tensorflow/tensorflow/issues/47064
Label: clean
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
        pred = model(x, training=True)
        loss = tf.reduce_mean(tf.square(pred - y))
        with tape.stop_recording():
            spread = tf.math.reduce_std(pred)
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return grads, loss, spread


tf.random.set_seed(2)
net = Regressor()
net(tf.zeros([1, 3]))
grads, loss, spread = fit_batch(net, keras.optimizers.SGD(0.1), tf.random.normal([6, 3]), tf.random.normal([6, 1]))
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[-2]))) > 0
