"""A classifier loss turns the softmax into NumPy with .numpy() inside the tape to pick and clip probabilities: the loss is cut from the weights.

Source: https://github.com/tensorflow/tensorflow/issues/36596
        https://github.com/tensorflow/tensorflow/issues/50111
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras


def make_model():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


def loss_fn(model, x, labels):
    probs = tf.nn.softmax(model(x)).numpy()  # BUG
    probs = np.clip(probs, 1e-6, 1.0)
    picked = probs[np.arange(len(labels)), labels]
    return tf.reduce_mean(-tf.math.log(picked))


def train_step(model, opt, x, labels):
    with tf.GradientTape() as tape:
        loss = loss_fn(model, x, labels)
    grads = tape.gradient(loss, model.trainable_variables)
    return loss, grads


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    model = make_model()
    x = tf.random.normal([8, 4])
    labels = np.random.randint(0, 3, 8)
    loss, grads = train_step(model, keras.optimizers.SGD(0.1), x, labels)
    assert np.isfinite(float(loss))
    assert all(g is None for g in grads), "the tape lost the graph at .numpy()"
