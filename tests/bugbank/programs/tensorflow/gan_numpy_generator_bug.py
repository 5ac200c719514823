"""A moment-matching GAN's generator step feeds the discriminator NumPy statistics of the fake batch (.numpy().T): the generator gets None gradients.

Source: https://github.com/tensorflow/tensorflow/issues/31919
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf
import keras

G = keras.Sequential([keras.Input((1,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
D = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                      keras.layers.Dense(1, activation="sigmoid")])
bce = keras.losses.BinaryCrossentropy()


def moments(batch):
    flat = batch.reshape(-1)
    centered = flat - flat.mean()
    return np.array([flat.mean(), flat.std(), (centered ** 3).mean(), (centered ** 4).mean()], dtype=np.float32)


def generator_step(noise):
    with tf.GradientTape() as tape:
        fake = G(noise)
        decision = D(moments(fake.numpy().T).reshape((1, 4)))  # BUG
        g_loss = bce(tf.ones_like(decision), decision)
    return tape.gradient(g_loss, G.trainable_variables)


keras.utils.set_random_seed(0)
grads = generator_step(tf.random.uniform([32, 1]))
assert all(g is None for g in grads)
