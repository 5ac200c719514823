"""A learnable temperature is created as a tf.Variable inside the per-batch training function: each batch trains a fresh copy from 1.0, and the Keras 3 optimizer rejects the new variable on the second batch.

Source: https://github.com/keras-team/keras/issues/12503
        https://github.com/tensorflow/tensorflow/issues/51453
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf

encoder = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(3)])
optimizer = tf.keras.optimizers.SGD(0.5)


def run_batch(x, labels):
    temperature = tf.Variable(1.0, name="temperature")  # BUG
    with tf.GradientTape() as tape:
        logits = encoder(x) / temperature
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    variables = encoder.trainable_variables + [temperature]
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return temperature


tf.random.set_seed(0)
first = run_batch(tf.random.normal([8, 4]), tf.random.uniform([8], maxval=3, dtype=tf.int32))
assert float(first.numpy()) != 1.0
try:
    run_batch(tf.random.normal([8, 4]), tf.random.uniform([8], maxval=3, dtype=tf.int32))
except ValueError as err:
    # The second batch's temperature is a new variable the optimizer was never built with.
    assert "Unknown variable" in str(err), err
else:
    raise AssertionError("a per-batch variable was accepted by the optimizer")
