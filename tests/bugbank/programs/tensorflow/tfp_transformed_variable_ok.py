"""The same heteroscedastic regressor as a tf.Module: tf.Module finds the TransformedVariable's variable, so the noise scale trains.

Source: https://github.com/tensorflow/probability/issues/946
Label: clean
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
tfb = tfp.bijectors


class HeteroRegressor(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable(tf.zeros([2, 1]), name="w")
        self.noise = tfp.util.TransformedVariable(1.0, bijector=tfb.Softplus(), name="noise")

    def __call__(self, x):
        return tfd.Normal(loc=x @ self.w, scale=self.noise)


tf.random.set_seed(0)
x = tf.random.normal([64, 2])
y = 3.0 * x[:, :1] + 0.1 * tf.random.normal([64, 1])
model = HeteroRegressor()
opt = tf.keras.optimizers.Adam(0.05)
noise_before = float(tf.convert_to_tensor(model.noise))
for _ in range(3):
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model(x).log_prob(y))
    grads = tape.gradient(loss, model.trainable_variables)
    opt.apply_gradients(zip(grads, model.trainable_variables))
assert len(model.trainable_variables) == 2
assert all(g is not None for g in grads)
assert float(tf.convert_to_tensor(model.noise)) != noise_before
