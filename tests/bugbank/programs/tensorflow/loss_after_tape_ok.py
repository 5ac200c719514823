"""A classifier step computes the loss inside the tape and only the argmax accuracy after it; tape.gradient outside the block is the normal pattern.

Source: https://github.com/krasserm/super-resolution/issues/41
        https://github.com/tensorflow/tensorflow/issues/45604
Label: clean
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
from tensorflow import keras

model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
opt = keras.optimizers.Adam(1e-2)
ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def train_step(x, y):
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = ce(y, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
    pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
    acc = tf.reduce_mean(tf.cast(tf.equal(pred, y), tf.float32))
    return grads, acc


tf.random.set_seed(0)
x = tf.random.normal([16, 4])
y = tf.random.uniform([16], 0, 3, dtype=tf.int32)
grads, acc = train_step(x, y)
assert 0.0 <= float(acc) <= 1.0
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
