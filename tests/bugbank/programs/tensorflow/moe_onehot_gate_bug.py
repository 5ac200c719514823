"""A Keras 3 mixture-of-experts model picks one expert per example with a tfd.OneHotCategorical sample: the sample has no gradient, so the gating layer never learns.

Source: https://github.com/HorizonRobotics/alf/pull/1383
Label: buggy
Family: tensorflow
Frameworks: tensorflow, tensorflow_probability
"""
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class HardRouter(keras.Model):
    def __init__(self, n_experts=3):
        super().__init__()
        self.gate = keras.layers.Dense(n_experts)
        self.experts = [keras.layers.Dense(1) for _ in range(n_experts)]

    def call(self, x):
        route = tfd.OneHotCategorical(logits=self.gate(x), dtype=tf.float32)
        choice = route.sample()  # BUG
        outs = tf.concat([expert(x) for expert in self.experts], axis=-1)
        return tf.reduce_sum(choice * outs, axis=-1, keepdims=True)


def fit_batch(model, opt, x, y):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    named = {v.path: g for v, g in zip(model.trainable_variables, grads)}
    opt.apply_gradients([(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None])
    return named


tf.random.set_seed(0)
x = tf.random.normal([32, 5])
y = tf.reduce_sum(x, axis=-1, keepdims=True)
model = HardRouter()
model(x[:1])
named = fit_batch(model, keras.optimizers.Adam(0.01), x, y)
gate_grads = [g for path, g in named.items() if path.startswith(model.gate.path + "/")]
assert gate_grads and all(g is None for g in gate_grads)
assert any(g is not None for path, g in named.items() if not path.startswith(model.gate.path + "/"))
