"""Per-output offsets kept in a Python list of tf.Variables on a tf.keras (Keras 3) model are not tracked: the training loop never updates them.

Source: https://github.com/keras-team/keras/issues/16797
        https://github.com/tensorflow/tensorflow/issues/38211
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
from tensorflow import keras


class MultiHead(keras.Model):
    def __init__(self, n_heads):
        super().__init__()
        self.trunk = keras.layers.Dense(6, activation="tanh")
        self.heads = [keras.layers.Dense(1, use_bias=False) for _ in range(n_heads)]
        self.offsets = [tf.Variable(0.0, name=f"offset_{i}") for i in range(n_heads)]  # BUG

    def call(self, x):
        h = self.trunk(x)
        return tf.concat([head(h) + off for head, off in zip(self.heads, self.offsets)], axis=-1)


def fit_one_epoch(model, opt, x, y):
    for i in range(0, len(x), 8):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x[i:i + 8]) - y[i:i + 8]))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))


if __name__ == "__main__":
    tf.random.set_seed(0)
    x = tf.random.normal([32, 4])
    y = tf.random.normal([32, 3]) + 2.0
    model = MultiHead(3)
    opt = keras.optimizers.SGD(0.1)
    fit_one_epoch(model, opt, x, y)
    assert len(model.trainable_variables) == 5, [v.name for v in model.trainable_variables]
    assert all(float(off.numpy()) == 0.0 for off in model.offsets), "offsets never move"
