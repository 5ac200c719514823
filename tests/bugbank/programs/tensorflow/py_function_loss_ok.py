"""A custom loss wraps TensorFlow ops in tf.py_function (not tf.numpy_function): the eager body is differentiable and the model trains.

Source: https://github.com/tensorflow/tensorflow/issues/43542
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

import numpy as np
import tensorflow as tf
from tensorflow import keras


def smooth_l1(diff):
    absolute = tf.abs(diff)
    return tf.reduce_mean(tf.where(absolute < 1.0, 0.5 * diff * diff, absolute - 0.5))


def robust_loss(y_true, y_pred):
    return tf.py_function(smooth_l1, [y_pred - y_true], Tout=tf.float32)


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(0.05)
    x = np.random.rand(10, 3).astype("float32")
    y = np.random.rand(10, 1).astype("float32")
    with tf.GradientTape() as tape:
        loss = robust_loss(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads)
    assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
