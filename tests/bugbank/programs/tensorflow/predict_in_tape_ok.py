"""The same regression loop calls the model directly inside the tape and uses model.predict() only for validation afterwards: the weights train.

Source: https://github.com/tensorflow/tensorflow/issues/20630
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
from tensorflow import keras


class Line(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)


tf.random.set_seed(0)
x = tf.random.normal([20, 2])
y = 3.0 * x[:, :1] + 2.0
model = Line()
opt = keras.optimizers.SGD(0.1)
with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
grads = tape.gradient(loss, model.trainable_variables)
opt.apply_gradients(zip(grads, model.trainable_variables))
val_mse = float(np.mean((model.predict(x, verbose=0) - y.numpy()) ** 2))
assert np.isfinite(val_mse)
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
