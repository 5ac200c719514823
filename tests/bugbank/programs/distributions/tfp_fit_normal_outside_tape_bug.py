"""Fit a TFP Normal by maximum likelihood; the distribution is built once outside the GradientTape from exp(log_scale), so log_scale gets no gradient.

Source: https://github.com/tensorflow/probability/issues/1165
        https://github.com/tensorflow/probability/issues/285
Label: buggy
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class GaussianFit:
    def __init__(self):
        self.loc = tf.Variable(0.0, name="loc")
        self.log_scale = tf.Variable(0.0, name="log_scale")
        self.dist = tfd.Normal(loc=self.loc, scale=tf.exp(self.log_scale))  # BUG
        self.opt = tf.keras.optimizers.Adam(0.1)

    def train_step(self, batch):
        variables = [self.loc, self.log_scale]
        with tf.GradientTape() as tape:
            nll = -tf.reduce_mean(self.dist.log_prob(batch))
        grads = tape.gradient(nll, variables)
        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        self.opt.apply_gradients(pairs)
        return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    data = tf.constant(np.random.default_rng(0).normal(3.0, 2.0, size=64), tf.float32)
    fit = GaussianFit()
    for _ in range(3):
        grads = fit.train_step(data)
    assert grads[0] is not None
    assert grads[1] is None
    assert fit.log_scale.numpy() == 0.0
