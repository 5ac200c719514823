"""An adversarial-perturbation helper learns a tf.Variable delta added to a constant image batch: variables are watched automatically, so the delta's gradient arrives.

Source: https://github.com/fchollet/deep-learning-with-python-notebooks/pull/284
        https://github.com/tensorflow/tensorflow/issues/56968
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


def make_model():
    return keras.Sequential([keras.Input((12,)), keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(3)])


def perturb(model, images, labels, steps=3, eps=0.1):
    images = tf.constant(images)
    delta = tf.Variable(tf.zeros_like(images))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images + delta))
        grad = tape.gradient(loss, delta)
        delta.assign(tf.clip_by_value(delta + 0.05 * tf.sign(grad), -eps, eps))
    return grad, images + delta


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    net = make_model()
    x = np.random.rand(4, 12).astype("float32")
    y = np.array([0, 1, 2, 0])
    grad, adv = perturb(net, x, y)
    assert grad is not None and float(tf.reduce_sum(tf.abs(grad))) > 0.0
    assert not np.allclose(adv.numpy(), x)
