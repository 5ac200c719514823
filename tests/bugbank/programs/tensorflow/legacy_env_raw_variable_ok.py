"""With TF_USE_LEGACY_KERAS=1, tf.keras is tf_keras: a model's raw tf.Variable bias is tracked and receives a gradient.

Source: https://github.com/keras-team/keras/issues/16797
Label: clean
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np
import tensorflow as tf


class Regressor(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = tf.keras.layers.Dense(8, activation="relu")
        self.out = tf.keras.layers.Dense(1, use_bias=False)
        self.offset = tf.Variable(tf.zeros([1]), name="offset")

    def call(self, x):
        return self.out(self.hidden(x)) + self.offset


def train_step(model, opt, x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return grads


tf.random.set_seed(0)
x = tf.random.normal([16, 3])
y = tf.random.normal([16, 1]) + 3.0
model = Regressor()
opt = tf.keras.optimizers.SGD(0.1)
grads = train_step(model, opt, x, y)
by_var = {id(v): g for v, g in zip(model.trainable_variables, grads)}
assert id(model.offset) in by_var and by_var[id(model.offset)] is not None
assert float(tf.reduce_sum(tf.abs(by_var[id(model.offset)]))) > 0
assert float(model.offset.numpy()[0]) != 0.0
