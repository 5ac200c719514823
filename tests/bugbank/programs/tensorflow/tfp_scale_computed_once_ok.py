"""A flat TFP fitting script keeps the scale positive with tfp.util.DeferredTensor(log_scale, tf.exp): the exp is recomputed at every use, so log_scale trains.

Source: https://github.com/tensorflow/probability/issues/345
Label: clean
Family: tensorflow
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import warnings

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    data = tf.constant(np.random.default_rng(0).normal(3.0, 2.0, size=64), dtype=tf.float32)
    loc = tf.Variable(0.0, name="loc")
    log_scale = tf.Variable(0.0, name="log_scale")
    model = tfd.Normal(loc=loc, scale=tfp.util.DeferredTensor(log_scale, tf.exp))
    optimizer = tf.optimizers.Adam(0.1)
    grads = []
    for step in range(3):
        with tf.GradientTape() as tape:
            nll = -tf.reduce_mean(model.log_prob(data))
        grads = tape.gradient(nll, [loc, log_scale])
        optimizer.apply_gradients(zip(grads, [loc, log_scale]))
    assert all(g is not None and float(tf.abs(g)) > 0 for g in grads)
    assert float(log_scale.numpy()) != 0.0
