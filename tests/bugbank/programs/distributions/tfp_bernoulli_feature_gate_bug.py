"""Keras model learning which features to keep with tfd.Bernoulli(logits=...).sample(): the gate logits get no gradient (None).

Source: https://github.com/tensorflow/tensorflow/issues/12570
Label: buggy
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import tensorflow as tf
from tensorflow import keras
import tensorflow_probability as tfp


class GatedRegressor(keras.Model):
    def __init__(self, n_features=6):
        super().__init__()
        self.gate_logits = self.add_weight(name="gate_logits", shape=(n_features,), initializer="zeros")
        self.out = keras.layers.Dense(1)

    def call(self, x):
        gate = tfp.distributions.Bernoulli(logits=self.gate_logits, dtype=tf.float32).sample()  # BUG
        return self.out(x * gate)


model = GatedRegressor()
opt = keras.optimizers.SGD(0.1)


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    x, y = tf.random.normal((16, 6)), tf.random.normal((16, 1))
    grads = train_step(x, y)
    by_name = {v.name: g for v, g in zip(model.trainable_variables, grads)}
    gate_grad = [g for n, g in by_name.items() if "gate_logits" in n]
    assert gate_grad and gate_grad[0] is None
