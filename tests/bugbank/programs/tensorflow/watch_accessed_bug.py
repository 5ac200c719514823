"""A fine-tuning step opens GradientTape(watch_accessed_variables=False) to save memory and never watches the head: every gradient is None.

Source: https://github.com/tensorflow/tensorflow/issues/38751
        https://github.com/tensorflow/tensorflow/issues/29942
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import keras

backbone = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu")])
head = keras.layers.Dense(2)
head.build((None, 8))
optimizer = keras.optimizers.SGD(0.1)


def finetune_step(x, y):
    with tf.GradientTape(watch_accessed_variables=False) as tape:  # BUG
        logits = head(backbone(x))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    return tape.gradient(loss, head.trainable_variables)


if __name__ == "__main__":
    tf.random.set_seed(0)
    grads = finetune_step(tf.random.normal([8, 6]), tf.constant([0, 1] * 4))
    assert all(g is None for g in grads)
