"""Mixture-of-experts regressor whose router picks an expert with a TFP OneHotCategorical sample inside the GradientTape: the router gets no gradient.

Source: https://github.com/tensorflow/tensorflow/issues/9260
        https://github.com/tensorflow/probability/issues/1132
Label: buggy
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class RoutedExperts(tf.keras.Model):
    def __init__(self, n_experts=3):
        super().__init__()
        self.router = tf.keras.layers.Dense(n_experts)
        self.experts = [tf.keras.layers.Dense(1) for _ in range(n_experts)]

    def call(self, x):
        choice = tfd.OneHotCategorical(logits=self.router(x), dtype=tf.float32)
        gate = choice.sample()  # BUG
        outs = tf.concat([expert(x) for expert in self.experts], axis=-1)
        return tf.reduce_sum(gate * outs, axis=-1, keepdims=True)


def train_step(model, opt, x, y):
    with tf.GradientTape() as tape:
        pred = model(x)
        loss = tf.reduce_mean(tf.square(pred - y))
    grads = tape.gradient(loss, model.trainable_variables)
    pairs = [(g, v) for g, v in zip(grads, model.trainable_variables) if g is not None]
    opt.apply_gradients(pairs)
    return grads


if __name__ == "__main__":
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(32, 4)), dtype=tf.float32)
    y = tf.constant(rng.normal(size=(32, 1)), dtype=tf.float32)
    model = RoutedExperts()
    model(x)
    opt = tf.keras.optimizers.SGD(0.05)
    grads = train_step(model, opt, x, y)
    router_grads = [g for g, v in zip(grads, model.trainable_variables) if any(v is w for w in model.router.trainable_variables)]
    assert router_grads and all(g is None for g in router_grads)
    expert_grads = [g for g, v in zip(grads, model.trainable_variables) if any(v is w for w in model.experts[0].trainable_variables)]
    assert any(g is not None for g in expert_grads)
