"""A GAN generator step negates the discriminator score after the tape block closes: the final op is unrecorded and the generator gets no gradient.

Source: https://github.com/tensorflow/tensorflow/issues/45604
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
from tensorflow import keras

generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3)])
critic = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
gen_opt = keras.optimizers.Adam(1e-3)


def generator_step(noise):
    with tf.GradientTape() as gen_tape:
        fake = generator(noise, training=True)
        score = tf.reduce_mean(critic(fake))
    gen_loss = -score  # BUG
    grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
    return grads


tf.random.set_seed(0)
grads = generator_step(tf.random.normal([8, 2]))
assert all(g is None for g in grads)
