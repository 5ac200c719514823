"""A training loop adds an L1 sparsity penalty on the first layer, read through get_weights(): those are NumPy copies, so the penalty is a constant and never shrinks the kernel.

Source: https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/369
        https://www.codeprj.com/zh/blog/c2a2801.html
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras

L1 = 1e-2


def sparsity_penalty(model):
    kernel = model.layers[0].get_weights()[0]  # BUG
    return L1 * tf.reduce_sum(tf.abs(kernel))


model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1)])
optimizer = keras.optimizers.Adam(1e-2)


def train_step(x, y):
    with tf.GradientTape() as tape:
        mse = tf.reduce_mean(tf.square(model(x, training=True) - y))
        loss = mse + sparsity_penalty(model)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 10).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    for _ in range(2):
        train_step(x, y)
    with tf.GradientTape() as tape:
        penalty = sparsity_penalty(model)
    assert tape.gradient(penalty, model.layers[0].kernel) is None, "the penalty is a NumPy constant"
