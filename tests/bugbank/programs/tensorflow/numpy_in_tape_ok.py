"""A training step that reads the loss with .numpy() only for its log history, after computing it with TF ops: the weights get their gradient.

Source: https://github.com/tensorflow/tensorflow/issues/36596
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras

history = []


def train_step(model, opt, x, labels):
    with tf.GradientTape() as tape:
        logits = model(x)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        history.append(loss.numpy())
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    return grads


keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
x = tf.random.normal([8, 4])
labels = np.random.randint(0, 3, 8)
grads = train_step(model, keras.optimizers.SGD(0.1), x, labels)
assert len(history) == 1
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
