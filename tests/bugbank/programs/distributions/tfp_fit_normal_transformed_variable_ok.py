"""Fit a TFP Normal built once outside the tape; its scale is a TransformedVariable, so the softplus is deferred and the gradient arrives.

Source: https://github.com/tensorflow/probability/issues/1165
        https://github.com/tensorflow/probability/issues/285
Label: clean
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
tfb = tfp.bijectors

loc = tf.Variable(0.0, name="loc")
scale = tfp.util.TransformedVariable(1.0, bijector=tfb.Softplus(), name="scale")
normal = tfd.Normal(loc=loc, scale=scale)
optimizer = tf.keras.optimizers.Adam(0.1)


def fit_step(batch):
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(normal.log_prob(batch))
    grads = tape.gradient(loss, normal.trainable_variables)
    optimizer.apply_gradients(zip(grads, normal.trainable_variables))
    return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    data = tf.constant(np.random.default_rng(0).normal(3.0, 2.0, size=64), tf.float32)
    # a constant, data-independent summary may be computed outside the tape
    data_std = tf.exp(tf.math.log(tf.math.reduce_std(data)))
    for _ in range(3):
        grads = fit_step(data)
    assert len(grads) == 2 and all(g is not None for g in grads)
    assert all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)
    assert float(data_std) > 0
