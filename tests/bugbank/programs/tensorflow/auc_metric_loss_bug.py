"""A custom loop optimises 1 - AUC using a keras.metrics.AUC object inside the tape; the metric's result comes from confusion-count variables updated by assignment, so no gradient reaches the model.

Source: https://errorhandle.ai/add-auc-as-loss-function-for-keras
        https://github.com/ronaldluc/DeepSaber/pull/6
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
from tensorflow import keras

clf = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
optimizer = keras.optimizers.Adam(1e-2)


def auc_loss(y_true, y_prob):
    auc = keras.metrics.AUC(num_thresholds=50)
    auc.update_state(y_true, y_prob)
    return 1.0 - auc.result()  # BUG


def step(x, y):
    with tf.GradientTape() as tape:
        prob = clf(x, training=True)
        loss = auc_loss(y, prob)
    grads = tape.gradient(loss, clf.trainable_variables)
    return grads


tf.random.set_seed(4)
x = tf.random.normal([32, 5])
y = tf.cast(tf.random.uniform([32, 1]) > 0.5, tf.float32)
grads = step(x, y)
assert all(g is None for g in grads)
