"""A training function runs the forward pass through a helper before opening the GradientTape, so the tape records only the loss arithmetic and every gradient is None.

Source: https://github.com/krasserm/super-resolution/issues/41
        https://github.com/keras-team/keras-tuner/pull/475
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras
import tensorflow as tf


def make_model():
    return keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="tanh"),
        keras.layers.Dense(3),
    ])


def forward(model, batch):
    feats, _ = batch
    return model(feats, training=True)


def train_epoch(model, optimizer, batches):
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    last = None
    for batch in batches:
        logits = forward(model, batch)  # BUG
        with tf.GradientTape() as tape:
            loss = loss_fn(batch[1], logits)
        last = tape.gradient(loss, model.trainable_variables)
        if any(g is not None for g in last):
            optimizer.apply_gradients(zip(last, model.trainable_variables))
    return last


tf.random.set_seed(0)
data = tf.data.Dataset.from_tensor_slices(
    (tf.random.normal([24, 6]), tf.random.uniform([24], maxval=3, dtype=tf.int32))).batch(8)
grads = train_epoch(make_model(), keras.optimizers.SGD(0.1), data)
assert all(g is None for g in grads)
