"""Keras model with a custom train_step whose score-function loss takes log_prob of the stopped sample: both the mean layer and the scale train.

Source: https://github.com/tensorflow/tensorflow/issues/7236
Label: clean
Family: sampling
Frameworks: tensorflow, tensorflow_probability
"""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
GRAD_LOG = {}


class ScoreAgent(tf.keras.Model):
    def __init__(self, act_dim=2):
        super().__init__()
        self.loc_layer = tf.keras.layers.Dense(act_dim)
        self.log_scale = self.add_weight(shape=(act_dim,), initializer="zeros", name="log_scale")

    def call(self, obs):
        return tfd.Normal(loc=self.loc_layer(obs), scale=tf.exp(self.log_scale))

    def train_step(self, data):
        obs, target = data
        with tf.GradientTape() as tape:
            pi = self(obs)
            act = tf.stop_gradient(pi.sample())
            reward = -tf.reduce_sum(tf.square(act - target), axis=-1)
            logp = tf.reduce_sum(pi.log_prob(act), axis=-1)
            loss = -tf.reduce_mean((reward - tf.reduce_mean(reward)) * logp)
        grads = tape.gradient(loss, self.trainable_variables)
        GRAD_LOG["step"] = list(zip(self.trainable_variables, grads))
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}


if __name__ == "__main__":
    tf.random.set_seed(0)
    obs = np.random.RandomState(0).randn(16, 3).astype("float32")
    target = np.full((16, 2), 0.5, dtype="float32")
    agent = ScoreAgent()
    agent.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    agent(obs[:1])
    agent.train_step((tf.constant(obs), tf.constant(target)))
    kernel_grad = next(g for v, g in GRAD_LOG["step"] if v is agent.loc_layer.kernel)
    scale_grad = next(g for v, g in GRAD_LOG["step"] if v is agent.log_scale)
    assert float(tf.reduce_max(tf.abs(kernel_grad))) > 0.0
    assert float(tf.reduce_max(tf.abs(scale_grad))) > 0.0
