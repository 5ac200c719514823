"""A generator is trained to maximise a fixed scorer's mean output; the step records the score inside the tape but negates it into the loss after the with-block, so the tape never saw the loss and every generator gradient is None.

Source: https://github.com/tensorflow/tensorflow/issues/45604
Label: buggy
Family: tensorflow
Frameworks: tensorflow
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import numpy as np
import tensorflow as tf

NOISE = 4


def make_nets():
    gen = tf.keras.Sequential([tf.keras.Input((NOISE,)), tf.keras.layers.Dense(8, activation="relu"), tf.keras.layers.Dense(3)])
    scorer = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
    scorer.trainable = False  # a fixed, pretrained judge
    return gen, scorer


def adversarial_step(gen, scorer, opt, batch=8):
    z = tf.random.normal((batch, NOISE))
    with tf.GradientTape() as gen_tape:
        samples = gen(z, training=True)
        score = tf.reduce_mean(scorer(samples))
    loss = -1.0 * score  # BUG
    grads = gen_tape.gradient(loss, gen.trainable_variables)  # BUG
    return loss, grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    gen, scorer = make_nets()
    opt = tf.keras.optimizers.Adam(1e-3)
    loss, grads = adversarial_step(gen, scorer, opt)
    assert np.isfinite(float(loss))
    assert all(g is None for g in grads), "the negation happened off the tape"
