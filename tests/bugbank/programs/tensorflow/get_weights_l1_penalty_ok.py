"""A training loop adds an L1 sparsity penalty on the first layer's kernel variable and reads get_weights() only to log the kernel's size: the penalty's gradient reaches the kernel.

Source: https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/369
        https://www.codeprj.com/zh/blog/c2a2801.html
Label: clean
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
    kernel = model.layers[0].kernel
    return L1 * tf.reduce_sum(tf.abs(kernel))


def kernel_mass(model):
    return float(np.abs(model.layers[0].get_weights()[0]).sum())


model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1)])
optimizer = keras.optimizers.Adam(1e-2)


def train_step(x, y):
    with tf.GradientTape() as tape:
        mse = tf.reduce_mean(tf.square(model(x, training=True) - y))
        loss = mse + sparsity_penalty(model)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss, kernel_mass(model)


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    x = np.random.rand(32, 10).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    for _ in range(2):
        loss, mass = train_step(x, y)
    with tf.GradientTape() as tape:
        penalty = sparsity_penalty(model)
    grad = tape.gradient(penalty, model.layers[0].kernel)
    assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0.0
    assert mass > 0.0
