"""A Keras 3 model learns a positive noise scale as tfp.util.TransformedVariable: Keras 3 does not track it, so the scale never trains.

Source: https://github.com/tensorflow/probability/issues/946
Label: buggy
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import tensorflow as tf
import tensorflow_probability as tfp
import keras

tfd = tfp.distributions
tfb = tfp.bijectors


class HeteroRegressor(keras.Model):
    def __init__(self):
        super().__init__()
        self.mean = keras.layers.Dense(1)
        self.noise = tfp.util.TransformedVariable(1.0, bijector=tfb.Softplus(), name="noise")  # BUG

    def call(self, x):
        return tfd.Normal(loc=self.mean(x), scale=self.noise)


def nll(model, x, y):
    return -tf.reduce_mean(model(x).log_prob(y))


if __name__ == "__main__":
    tf.random.set_seed(0)
    x = tf.random.normal([64, 2])
    y = 3.0 * x[:, :1] + 0.1 * tf.random.normal([64, 1])
    model = HeteroRegressor()
    opt = keras.optimizers.Adam(0.05)
    noise_before = float(tf.convert_to_tensor(model.noise))
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = nll(model, x, y)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
    assert len(model.trainable_variables) == 2, "only the Dense kernel and bias"
    assert float(tf.convert_to_tensor(model.noise)) == noise_before, "the noise scale never trains"
