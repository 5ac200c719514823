"""A generator is trained to maximise a frozen scorer's output: the negation is inside the tape, the scorer is deliberately frozen and kept out of the optimizer, and the generator gets gradients.

Source: https://github.com/tensorflow/tensorflow/issues/45604
Label: clean
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
        loss = -1.0 * score
    grads = gen_tape.gradient(loss, gen.trainable_variables)
    opt.apply_gradients(zip(grads, gen.trainable_variables))
    # a log line, after the tape
    print_value = float(loss)
    return print_value, grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    gen, scorer = make_nets()
    opt = tf.keras.optimizers.Adam(1e-3)
    frozen = [w.copy() for w in scorer.get_weights()]
    loss, grads = adversarial_step(gen, scorer, opt)
    assert np.isfinite(loss)
    assert all(g is not None for g in grads)
    assert float(tf.reduce_sum(tf.abs(grads[-1]))) > 0.0
    assert all(np.array_equal(a, b) for a, b in zip(frozen, scorer.get_weights())), "the judge stays fixed"
