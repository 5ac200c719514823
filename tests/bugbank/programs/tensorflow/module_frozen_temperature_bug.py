"""A tf.Module temperature-scaling calibrator creates its log-temperature with trainable=False, so it is left out of trainable_variables and never moves while the bias trains.

Source: https://taourl.com/read-2033525.html
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf


class Calibrator(tf.Module):
    def __init__(self, n_classes):
        super().__init__()
        self.log_temperature = tf.Variable(0.0, trainable=False)  # BUG
        self.bias = tf.Variable(tf.zeros([n_classes]))

    def __call__(self, logits):
        return logits / tf.exp(self.log_temperature) + self.bias


def calibrate(module, logits, labels, steps=3):
    opt = tf.keras.optimizers.Adam(0.1)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            scaled = module(logits)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=scaled))
        grads = tape.gradient(loss, module.trainable_variables)
        opt.apply_gradients(zip(grads, module.trainable_variables))
    return module


tf.random.set_seed(0)
logits = 5.0 * tf.random.normal([64, 4])
labels = tf.random.uniform([64], maxval=4, dtype=tf.int32)
cal = calibrate(Calibrator(4), logits, labels)
assert float(cal.log_temperature.numpy()) == 0.0
assert float(tf.reduce_sum(tf.abs(cal.bias))) > 0
