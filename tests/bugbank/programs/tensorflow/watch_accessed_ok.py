"""Fine-tuning (tf_keras) with GradientTape(watch_accessed_variables=False) that explicitly watches the head's variables: only the head is differentiated, and it gets its gradient.

Source: https://github.com/tensorflow/tensorflow/issues/38751
Label: clean
Family: tensorflow
Frameworks: tensorflow, tf_keras
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import tf_keras as keras

backbone = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu")])
head = keras.layers.Dense(2)
head.build((None, 8))
optimizer = keras.optimizers.SGD(0.1)


def finetune_step(x, y):
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(head.trainable_variables)
        logits = head(backbone(x))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    grads = tape.gradient(loss, head.trainable_variables)
    optimizer.apply_gradients(zip(grads, head.trainable_variables))
    return grads


tf.random.set_seed(0)
grads = finetune_step(tf.random.normal([8, 6]), tf.constant([0, 1] * 4))
assert all(g is not None for g in grads)
assert float(tf.reduce_sum(tf.abs(grads[0]))) > 0
