"""The same robust loss run eagerly through tf.py_function with TensorFlow ops inside: py_function is differentiable, so the weights get a gradient.

Source: https://github.com/tensorflow/tensorflow/issues/47288
        https://github.com/tensorflow/tensorflow/issues/43542
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf


def tf_huber(err, delta=1.0):
    a = tf.abs(err)
    return tf.reduce_mean(tf.where(a < delta, 0.5 * a ** 2, delta * (a - 0.5 * delta)))


model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(8, activation="relu"),
                             tf.keras.layers.Dense(1)])
optimizer = tf.keras.optimizers.SGD(0.01)

tf.random.set_seed(0)
x = tf.random.normal([16, 3])
y = tf.random.normal([16, 1])
with tf.GradientTape() as tape:
    pred = model(x, training=True)
    loss = tf.py_function(tf_huber, [pred - y], tf.float32)
grads = tape.gradient(loss, model.trainable_variables)
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
optimizer.apply_gradients(zip(grads, model.trainable_variables))
