"""Keras/TFP regression with a latent noise draw from tfd.Normal(...).sample(): TFP samples are reparameterised.

Source: https://github.com/tensorflow/tensorflow/issues/7236
Label: clean
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class StochasticHead(tf.Module):
    def __init__(self, d_in=3):
        super().__init__()
        self.w_mu = tf.Variable(tf.random.normal((d_in, 1), seed=1) * 0.1)
        self.log_sigma = tf.Variable(tf.zeros((1,)))

    def __call__(self, x):
        mu = x @ self.w_mu
        return tfd.Normal(loc=mu, scale=tf.exp(self.log_sigma)).sample(seed=7)


if __name__ == "__main__":
    tf.random.set_seed(0)
    head = StochasticHead()
    opt = tf.keras.optimizers.SGD(0.05)
    x = tf.random.normal((10, 3), seed=2)
    y = tf.reduce_sum(x, axis=1, keepdims=True)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((head(x) - y) ** 2)
    grads = tape.gradient(loss, head.trainable_variables)
    assert all(g is not None for g in grads)
    assert all(float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)
    opt.apply_gradients(zip(grads, head.trainable_variables))
